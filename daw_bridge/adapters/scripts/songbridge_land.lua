-- SongBridge -> REAPER: land stems at a position (a ReaScript).
-- Install: Actions > Show action list > New action > Load ReaScript..., pick this file, and copy its command ID
-- (e.g. _RS1234abcd...) into SongBridge's DAW settings (daw.reaper_action). SongBridge writes a request file to
-- <REAPER resource path>/Scripts/songbridge_request.txt and triggers this action over OSC (/action/str).
-- Request lines:  path<TAB>track name<TAB>position seconds<TAB>tag
-- A previous item whose take name starts with the same tag on that track is removed (a newer take replaces it).
-- The result goes to songbridge_response.txt: "ok <n>" or "error <message>".

local dir = reaper.GetResourcePath() .. "/Scripts/"
local req = io.open(dir .. "songbridge_request.txt", "r")
local out = io.open(dir .. "songbridge_response.txt", "w")
if not req then out:write("error no request file\n"); out:close(); return end

local function find_track(name)
  for i = 0, reaper.CountTracks(0) - 1 do
    local tr = reaper.GetTrack(0, i)
    local _, tn = reaper.GetSetMediaTrackInfo_String(tr, "P_NAME", "", false)
    if tn == name then return tr end
  end
  reaper.InsertTrackAtIndex(reaper.CountTracks(0), true)
  local tr = reaper.GetTrack(0, reaper.CountTracks(0) - 1)
  reaper.GetSetMediaTrackInfo_String(tr, "P_NAME", name, true)
  return tr
end

reaper.Undo_BeginBlock()
local cursor = reaper.GetCursorPosition()
local n = 0
for line in req:lines() do
  local path, track, seconds, tag = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]*)$")
  if path then
    local tr = find_track(track)
    for i = reaper.CountTrackMediaItems(tr) - 1, 0, -1 do
      local item = reaper.GetTrackMediaItem(tr, i)
      local take = reaper.GetActiveTake(item)
      if take and tag ~= "" then
        local _, tname = reaper.GetSetMediaItemTakeInfo_String(take, "P_NAME", "", false)
        if tname:sub(1, #tag) == tag then reaper.DeleteTrackMediaItem(tr, item) end
      end
    end
    reaper.SetOnlyTrackSelected(tr)
    reaper.SetEditCurPos(tonumber(seconds), false, false)
    reaper.InsertMedia(path, 0)
    local item = reaper.GetTrackMediaItem(tr, reaper.CountTrackMediaItems(tr) - 1)
    if item and tag ~= "" then
      reaper.GetSetMediaItemTakeInfo_String(reaper.GetActiveTake(item), "P_NAME", tag .. " " .. track, true)
    end
    n = n + 1
  end
end
req:close()
reaper.SetEditCurPos(cursor, false, false)
reaper.Undo_EndBlock("SongBridge: land stems", -1)
reaper.UpdateArrange()
out:write("ok " .. n .. "\n")
out:close()
