ardour {
	["type"]    = "EditorAction",
	name        = "SongBridge: land stems",
	license     = "MIT",
	author      = "SongBridge",
	description = [[Lands the stems SongBridge rendered onto the session's SB tracks at the exact sample.
SongBridge writes land-request.txt (in its inbox in Ardour's configuration folder, and in <session>/songbridge/)
and triggers this action over OSC (/access_action "LuaAction/script-N"); the answer goes to land-ack.txt beside it.
songbridge-land-action v1]]
}

-- Request (one field per line, tab-separated):
--   songbridge-land 1
--   id       <request id>
--   session  <session folder the request is for>
--   kind     land | ping
--   start    <sample>            (land)
--   end      <sample>            (land: the section's end; previous regions of the section inside are replaced)
--   tag      <region name prefix, e.g. sb-chorus->
--   stem     <track name> <TAB> <audio file>
-- Ack: "id <request id>", then "ok" or "error <message>", then facts:
--   session <path> / name <name> / rate <Hz> / bpm <quarter notes per minute at start> / meter <beats per bar>
--   region <track> <TAB> <region> <TAB> <position> <TAB> <length> <TAB> <imported|reused>

function factory (params) return function ()
	-- `songbridge daw setup ardour` gives the bound action an inbox in Ardour's configuration folder, so that it
	-- answers whichever session is open; bound by hand, it reads <session>/songbridge/.
	local dir = SONGBRIDGE_INBOX
	if not dir then
		dir = Session:path ()
		if string.sub (dir, -1) ~= "/" then dir = dir .. "/" end
		dir = dir .. "songbridge/"
	end
	local lines = {}

	local function finish (status)
		local out = io.open (dir .. "land-ack.txt.tmp", "w")
		if not out then return end
		out:write (status .. "\n")
		for _, l in ipairs (lines) do out:write (l .. "\n") end
		out:close ()
		os.rename (dir .. "land-ack.txt.tmp", dir .. "land-ack.txt")
	end

	local req = {stems = {}}
	local fh = io.open (dir .. "land-request.txt", "r")
	if not fh then
		finish ("error no request in " .. dir)
		return
	end
	local first = fh:read ("l")
	for line in fh:lines () do
		local key, rest = string.match (line, "^(%S+)\t(.*)$")
		if key == "stem" then
			local track, path = string.match (rest, "^([^\t]+)\t(.+)$")
			if track then table.insert (req.stems, {track = track, path = path}) end
		elseif key then
			req[key] = rest
		end
	end
	fh:close ()
	table.insert (lines, "id\t" .. (req.id or ""))

	local here = Session:path ()
	local function norm (p) return (string.gsub (p or "", "/+$", "")) end
	local tm = Temporal.TempoMap.read ()
	local start = tonumber (req.start or "0") or 0
	local pos = Temporal.timepos_t (start)
	table.insert (lines, "session\t" .. norm (here))
	table.insert (lines, "name\t" .. Session:name ())
	table.insert (lines, "rate\t" .. Session:nominal_sample_rate ())
	table.insert (lines, "bpm\t" .. tm:quarters_per_minute_at (pos))
	table.insert (lines, "meter\t" .. tm:meter_at (pos):divisions_per_bar ())
	tm = nil

	if first ~= "songbridge-land\t1" then
		finish ("error unknown request format: " .. tostring (first))
		return
	end
	if norm (req.session) ~= norm (here) then
		finish ("error Ardour has " .. norm (here) .. " open, not " .. norm (req.session))
		return
	end
	if req.kind == "ping" then
		finish ("ok")
		return
	end
	local stop = tonumber (req["end"] or "") or start
	local tag = req.tag or "sb-"

	local ok, err = pcall (function ()
		for _, stem in ipairs (req.stems) do
			local route = Session:route_by_name (stem.track)
			if route:isnil () then
				local tl = Session:new_audio_track (2, 2, nil, 1, stem.track, ARDOUR.PresentationInfo.max_order,
					ARDOUR.TrackMode.Normal, true)
				route = tl:front ()
			end
			local track = route:to_track ()
			if track:isnil () then error ("'" .. stem.track .. "' is a bus, not an audio track") end
			local playlist = track:playlist ()
			local base = string.match (stem.path, "([^/]+)%.[^./]+$") or stem.path
			-- the regions this section got before, on this track
			local old = {}
			for r in playlist:region_list ():iter () do
				local p = r:position ():samples ()
				if string.sub (r:name (), 1, #tag) == tag and p < stop and p + r:length ():samples () > start then
					table.insert (old, r)
				end
			end
			-- the file's whole-file region: imported before (its sources are reused), else imported now (into the
			-- region list only; placing it is done here, on this track, whatever the editor has selected)
			local function whole_region ()
				local hit = nil
				for _, r in ARDOUR.RegionFactory.regions ():iter () do
					if r:whole_file () and r:name () == base then hit = r end
				end
				return hit
			end
			local how = "reused"
			local whole = whole_region ()
			if not whole then
				local files = C.StringVector ()
				files:push_back (stem.path)
				local at = Temporal.timepos_t (start)
				Editor:do_import (files, Editing.ImportDistinctFiles, Editing.ImportAsRegion, ARDOUR.SrcQuality.SrcBest,
					ARDOUR.MidiTrackNameSource.SMFTrackName, ARDOUR.MidiTempoMapDisposition.SMFTempoIgnore,
					at, ARDOUR.PluginInfo (), ARDOUR.Track (), false)
				how = "imported"
				whole = whole_region ()
				if not whole then error ("Ardour could not import " .. stem.path) end
			end
			Session:begin_reversible_command ("SongBridge: land " .. stem.track)
			playlist:to_stateful ():clear_changes ()
			for _, r in ipairs (old) do playlist:remove_region (r) end
			playlist:add_region (ARDOUR.RegionFactory.clone_region (whole, true, true), pos, 1, false)
			Session:add_stateful_diff_command (playlist:to_statefuldestructible ())
			if not Session:abort_empty_reversible_command () then
				Session:commit_reversible_command (nil)
			end
			local found = false
			for r in playlist:region_list ():iter () do
				if r:position ():samples () == start and string.sub (r:name (), 1, #base) == base then
					table.insert (lines, string.format ("region\t%s\t%s\t%d\t%d\t%s", stem.track, r:name (),
						start, r:length ():samples (), how))
					found = true
				end
			end
			if not found then error (stem.path .. " did not land on '" .. stem.track .. "'") end
		end
	end)
	if ok then finish ("ok") else finish ("error " .. tostring (err)) end
end end
