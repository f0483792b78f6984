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
--   kind     land | ping | tracks (create the stems' tracks only)
--   start    <sample>            (land)
--   end      <sample>            (land: the section's end; previous regions of the section inside are replaced)
--   tag      <region name prefix, e.g. sb-chorus->
--   stem     <track name> <TAB> <audio file>
--   midi     <track name> <TAB> <Standard MIDI File, one part>   (a MIDI track, its region at the same sample)
--   clearmidi 1                  (land: the section's earlier MIDI regions leave the MIDI tracks given no file)
-- A "timeline" request (header "songbridge-land 2", which actions from before it refuse as an unknown format):
--   tag      <marker name prefix, e.g. sb:>   (range markers named so are replaced; all others stay)
--   tempo    <ticks from the start, music time> <TAB> <quarter notes per minute> <TAB> <beats per bar> <TAB> <note>
--   section  <start sample> <TAB> <end sample> <TAB> <name>   (a range marker named <tag><name>)
--   quarters <n>   (how far to look for the session's own tempo points, which are set to the song's tempo there)
--   answered with: tempos <n> / markers <n> / replaced <n> / kept <n> (the producer's own markers, untouched)
-- Ack: "id <request id>", then "ok" or "error <message>", then facts:
--   session <path> / name <name> / rate <Hz> / bpm <quarter notes per minute at start> / meter <beats per bar>
--   region <track> <TAB> <region> <TAB> <position> <TAB> <length> <TAB> <imported|reused|removed>
--   range <session range start sample> <TAB> <end sample>
-- A landing is one undo step in Ardour (Edit > Undo takes all its stems back), its regions on top of what they
-- overlap, and the session range widened to cover them.

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

	local req = {stems = {}, tempos = {}, sections = {}}
	local fh = io.open (dir .. "land-request.txt", "r")
	if not fh then
		finish ("error no request in " .. dir)
		return
	end
	local first = fh:read ("l")
	for line in fh:lines () do
		local key, rest = string.match (line, "^(%S+)\t(.*)$")
		if key == "stem" or key == "midi" then
			local track, path = string.match (rest, "^([^\t]+)\t(.+)$")
			if track then table.insert (req.stems, {track = track, path = path, midi = key == "midi"}) end
		elseif key == "tempo" then
			local t, q, b, n = string.match (rest, "^(%d+)\t([%d.]+)\t(%d+)\t(%d+)$")
			if t then table.insert (req.tempos, {ticks = tonumber (t), qpm = tonumber (q), beats = tonumber (b),
				note = tonumber (n)}) end
		elseif key == "section" then
			local a, b, name = string.match (rest, "^(%d+)\t(%d+)\t(.*)$")
			if a then table.insert (req.sections, {a = tonumber (a), b = tonumber (b), name = name}) end
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

	if first ~= "songbridge-land\t1" and first ~= "songbridge-land\t2" then
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
	if req.kind == "timeline" then
		-- the song's tempo map and its sections as range markers. Ardour 7.3's Lua has no undoable command for the
		-- tempo map or the locations (no TempoCommand, no Locations memento), so this is not an undo step in Ardour.
		local ok, err = pcall (function ()
			local mark = req.tag or "sb:"
			if #mark == 0 then error ("an empty marker tag would replace the producer's own markers") end
			if #req.tempos > 0 then
				local tm = Temporal.TempoMap.fetch_writable ()
				local tok, terr = pcall (function ()
					for _, t in ipairs (req.tempos) do
						local at = Temporal.timepos_t.from_ticks (t.ticks)
						tm:set_meter (Temporal.Meter (t.beats, t.note), at)
						tm:set_tempo (Temporal.Tempo (t.qpm, t.qpm, 4), at)
					end
					-- Lua cannot remove a tempo or meter point: the session's own points elsewhere (found walking the
					-- map a quarter note at a time; a point is found from the quarter note after it) are set to the
					-- song's tempo and meter there
					local ours = {}
					for _, t in ipairs (req.tempos) do ours[t.ticks] = true end
					local function song_at (ticks)
						local hit = req.tempos[1]
						for _, t in ipairs (req.tempos) do if t.ticks <= ticks then hit = t end end
						return hit
					end
					local function ticks_of (beats) -- "<quarters>:<ticks>", as Beats print
						local qn, tk = string.match (beats:str (), "^(%-?%d+):(%d+)$")
						return tonumber (qn or "0") * 1920 + tonumber (tk or "0")
					end
					local limit = tonumber (req.quarters or "0") or 0
					local function others (point_at) -- the positions (ticks) of points that are not the song's
						local found, seen = {}, {}
						for q = 1, limit do
							local tk = ticks_of (point_at (Temporal.timepos_t.from_ticks (q * 1920)):to_point ():beats ())
							if not ours[tk] and not seen[tk] then seen[tk] = true table.insert (found, tk) end
						end
						return found
					end
					-- meters first: a tempo point keeps its bar and beat, so it moves when a meter before it changes
					local old_meters = others (function (at) return tm:meter_at (at) end)
					for _, ticks in ipairs (old_meters) do
						local t = song_at (ticks)
						tm:set_meter (Temporal.Meter (t.beats, t.note), Temporal.timepos_t.from_ticks (ticks))
					end
					local old = others (function (at) return tm:tempo_at (at) end)
					for _, ticks in ipairs (old) do
						local t = song_at (ticks)
						tm:set_tempo (Temporal.Tempo (t.qpm, t.qpm, 4), Temporal.timepos_t.from_ticks (ticks))
					end
					table.insert (lines, "evened\t" .. (#old + #old_meters))
				end)
				if tok then Temporal.TempoMap.update (tm) else Temporal.TempoMap.abort_update () end
				tm = nil
				if not tok then error (terr) end
			end
			local L = Session:locations ()
			local gone, kept = {}, 0
			for l in L:list ():iter () do
				if l:is_range_marker () and string.sub (l:name (), 1, #mark) == mark then
					table.insert (gone, l)
				elseif (l:is_mark () or l:is_range_marker ()) and not l:is_session_range () then
					kept = kept + 1
				end
			end
			for _, l in ipairs (gone) do L:remove (l) end
			for _, sec in ipairs (req.sections) do
				local r = L:add_range (Temporal.timepos_t (sec.a), Temporal.timepos_t (sec.b))
				r:set_name (mark .. sec.name)
			end
			table.insert (lines, "tempos\t" .. #req.tempos)
			table.insert (lines, "markers\t" .. #req.sections)
			table.insert (lines, "replaced\t" .. #gone)
			table.insert (lines, "kept\t" .. kept)
		end)
		if ok then finish ("ok") else finish ("error " .. tostring (err)) end
		return
	end
	-- a MIDI track for a part of the guide, playing through Ardour's own General MIDI-ish synth when it has one
	local function new_track (stem)
		if stem.midi then
			local synth = ARDOUR.LuaAPI.new_plugin_info ("ACE Reasonable Synth", ARDOUR.PluginType.LV2)
			if synth:isnil () then synth = ARDOUR.PluginInfo () end
			return Session:new_midi_track (ARDOUR.ChanCount (ARDOUR.DataType ("midi"), 1),
				ARDOUR.ChanCount (ARDOUR.DataType ("audio"), 2), true, synth, nil, nil, 1, stem.track,
				ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true)
		end
		return Session:new_audio_track (2, 2, nil, 1, stem.track, ARDOUR.PresentationInfo.max_order,
			ARDOUR.TrackMode.Normal, true)
	end
	if req.kind == "tracks" then
		-- the stems' tracks first, in a request of their own: Ardour connects a new track's outputs from another
		-- thread, which needs this action to have returned (a landing that made its tracks itself now and then
		-- left them playing into nothing)
		local ok, err = pcall (function ()
			for _, stem in ipairs (req.stems) do
				if Session:route_by_name (stem.track):isnil () then
					new_track (stem)
					table.insert (lines, "created\t" .. stem.track)
				end
			end
		end)
		if ok then finish ("ok") else finish ("error " .. tostring (err)) end
		return
	end
	local stop = tonumber (req["end"] or "") or start
	local tag = req.tag or "sb-"

	local ok, err = pcall (function ()
		-- 1. every stem's track and whole-file region (imported now, or before: its sources are reused)
		local plan = {}
		for _, stem in ipairs (req.stems) do
			local route = Session:route_by_name (stem.track)
			if route:isnil () then
				route = new_track (stem):front ()
			end
			local track = route:to_track ()
			local kind = stem.midi and "MIDI" or "audio"
			if track:isnil () then error ("'" .. stem.track .. "' is a bus, not a " .. kind .. " track") end
			if track:playlist ():data_type ():to_string () ~= (stem.midi and "midi" or "audio") then
				error ("'" .. stem.track .. "' is not a " .. kind .. " track")
			end
			local base = string.match (stem.path, "([^/]+)%.[^./]+$") or stem.path
			-- into the region list only; placing it is done below, on this track, whatever the editor has selected
			local function whole_region ()
				local hit = nil
				for _, r in ARDOUR.RegionFactory.regions ():iter () do
					-- Ardour names a MIDI file's region after the file and its track ("<base>-<track>")
					local n = r:name ()
					if r:whole_file () and (n == base or (stem.midi and string.sub (n, 1, #base + 1) == base .. "-"))
						and (r:to_midiregion ():isnil () ~= (stem.midi == true)) then hit = r end
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
			table.insert (plan, {stem = stem, playlist = track:playlist (), whole = whole, base = base, how = how})
		end
		-- 2. one undo step for the whole landing: the section's previous regions leave every track, the new ones
		-- go on top of whatever they overlap
		Session:begin_reversible_command ("SongBridge: land " .. tag .. " at sample " .. start)
		local last = start
		-- a landing with MIDI (or from a take without: clearmidi) replaces the section's earlier MIDI regions on
		-- every MIDI track; those that get no new one now are listed as removed
		if req.clearmidi == "1" then
			local planned = {}
			for _, p in ipairs (plan) do planned[p.stem.track] = true end
			for route in Session:get_routes ():iter () do
				local t = route:to_track ()
				if not t:isnil () and not planned[route:name ()] and t:playlist ():data_type ():to_string () == "midi" then
					local playlist = t:playlist ()
					playlist:to_stateful ():clear_changes ()
					local old = {}
					for r in playlist:region_list ():iter () do
						local rp = r:position ():samples ()
						if string.sub (r:name (), 1, #tag) == tag and rp >= start and rp < stop then table.insert (old, r) end
					end
					for _, r in ipairs (old) do
						table.insert (lines, string.format ("region\t%s\t%s\t%d\t0\tremoved", route:name (), r:name (),
							r:position ():samples ()))
						playlist:remove_region (r)
					end
					Session:add_stateful_diff_command (playlist:to_statefuldestructible ())
				end
			end
		end
		for _, p in ipairs (plan) do
			local playlist = p.playlist
			playlist:to_stateful ():clear_changes ()
			local old = {}
			for r in playlist:region_list ():iter () do
				local rp = r:position ():samples ()
				if string.sub (r:name (), 1, #tag) == tag and rp < stop and rp + r:length ():samples () > start then
					table.insert (old, r)
				end
			end
			for _, r in ipairs (old) do playlist:remove_region (r) end
			-- a MIDI region shares its source (a fork would copy the file at every landing)
			local copy = ARDOUR.RegionFactory.clone_region (p.whole, true, not p.stem.midi)
			playlist:add_region (copy, pos, 1, false)
			pcall (function () copy:raise_to_top () end)
			Session:add_stateful_diff_command (playlist:to_statefuldestructible ())
			last = math.max (last, start + p.whole:length ():samples ())
		end
		if not Session:abort_empty_reversible_command () then
			Session:commit_reversible_command (nil)
		end
		-- the tracks' outputs: a track whose outputs go nowhere (Ardour connects a new track's outputs from another
		-- thread, and now and then never did) plays into nothing; connect those to the master
		local master = Session:master_out ():input ()
		for _, p in ipairs (plan) do
			local o = Session:route_by_name (p.stem.track):output ()
			local any = o:n_ports ():n_audio () == 0 -- a MIDI track without a synth has MIDI outputs only
			for c = 0, o:n_ports ():n_audio () - 1 do
				if o:audio (c):connected () then any = true end
			end
			if not any then
				for c = 0, o:n_ports ():n_audio () - 1 do
					o:connect (o:audio (c), master:audio (c % master:n_ports ():n_audio ()):name (), nil)
				end
				table.insert (lines, (o:audio (0):connected () and "connected\t" or "unconnected\t") .. p.stem.track)
			end
		end
		-- 3. the session range covers what landed (an export renders the session range: without one, nothing).
		-- Ardour 7.3's Lua cannot make a session range, only move one: sessions SongBridge creates have one.
		local range = Session:locations ():session_range_location ()
		if range ~= nil then
			local a, b = range:start ():samples (), range:_end ():samples ()
			if start < a or last > b then
				range:set (Temporal.timepos_t (math.min (a, start)), Temporal.timepos_t (math.max (b, last)))
			end
		end
		for _, p in ipairs (plan) do
			local found = false
			for r in p.playlist:region_list ():iter () do
				if r:position ():samples () == start and string.sub (r:name (), 1, #p.base) == p.base then
					table.insert (lines, string.format ("region\t%s\t%s\t%d\t%d\t%s", p.stem.track, r:name (),
						start, r:length ():samples (), p.how))
					found = true
				end
			end
			if not found then error (p.stem.path .. " did not land on '" .. p.stem.track .. "'") end
		end
		local r0 = Session:locations ():session_range_location ()
		if r0 ~= nil then
			table.insert (lines, string.format ("range\t%d\t%d", r0:start ():samples (), r0:_end ():samples ()))
		else
			table.insert (lines, "range\tnone")
		end
	end)
	if ok then finish ("ok") else finish ("error " .. tostring (err)) end
end end
