"""Every action of the app, once: the menus, the transport toolbar, the keys and the F1 sheet are built from this
table (``gui.actions.build``), and so are the right-click menus of a take, a section and a loop clip (the rows with
that ``context``, ``gui.actions.items``). A new action is one row here. Each ``run`` is one call into the window
(its ``doc``, ``timeline``, ``sheet``) or the session; the logic lives there, not here."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QKeySequence

from ..audition import PARENT_AB_KEY
from ..loop_lane import past_end, snap_bar
from ..preferences import open_preferences
from . import sections as sa
from .spec import ActionSpec, Target, Targeting, When

#: The menus, in menu bar order: (name the table uses, title with its mnemonic).
MENUS = (("File", "&File"), ("Edit", "&Edit"), ("Sections", "Sec&tions"), ("Lyrics", "&Lyrics"),
         ("Takes", "Ta&kes"), ("Loops", "Loo&ps"), ("Transport", "&Transport"), ("View", "&View"), ("Help", "&Help"))


def chosen(win: Any) -> str | None:
    """The take selected in the takes list (the one regenerations edit), if it is still in the song."""
    tid: str | None = win.takes.edit_take
    return tid if any(t.id == tid for t in win.doc.song.takes) else None


def _take(win: Any) -> Target | None:
    tid = chosen(win)
    return Target("take", tid, view=win.takes, menu_bar=True) if tid is not None else None


def _section(win: Any) -> Target:
    tl = win.timeline
    return Target("section", tl.current_section() or "", tl.playhead_s, tl, menu_bar=True)


def _loop(win: Any) -> Target | None:
    tl = win.timeline
    lid = tl.current_loop()
    return Target("loop", lid, tl.playhead_s, tl, menu_bar=True) if lid is not None else None


#: What the menu bar's rows of each context act on.
TARGETS = {"take": Targeting("a take selected in the takes list", _take),
           "section": Targeting("a section", _section),
           "loop": Targeting("a loop clip (click one in the Loops lane, or put the play head in one)", _loop)}


def _bar_here(t: Target) -> float:
    """The whole bar nearest the play head (where "Move to the play head" puts a loop)."""
    return snap_bar(t.view.doc.song, t.view.playhead_s)


def _move_detail(_w: Any, t: Target) -> str:
    here = _bar_here(t)
    return f"(bar {here:g})" + (" — past the song's end" if past_end(t.view.doc.song, here) else "")



HAS_TAKE = When("a take (generate one first)", lambda w: bool(w.doc.song.takes))
TWO_TAKES = When("two takes", lambda w: len(w.doc.song.takes) >= 2)
CAN_UNDO = When("an edit to undo", lambda w: w.doc.undo.canUndo())
CAN_REDO = When("an undone edit", lambda w: w.doc.undo.canRedo())
ONE_LINE = When("one line selected on the timeline", lambda w: len(w.timeline.selected) == 1)
LINES = When("two or more lines selected on the timeline", lambda w: len(w.timeline.selected) >= 2)
HAS_LYRICS = When("lyric lines", lambda w: bool(w.doc.song.lyrics))
HAS_SECTIONS = When("a section", lambda w: bool(w.doc.song.sections))
TAKE = When("a take of the song", lambda w, t: any(x.id == t.id for x in w.doc.song.takes))
SECTIONS = When("a section", lambda _w, t: bool(t.view.doc.song.sections))
MOVABLE = When("the play head on another bar before the song's end",
               lambda _w, t: _bar_here(t) != t.view.doc.song.loop(t.id).bar
               and not past_end(t.view.doc.song, _bar_here(t)))
IN_APP = When("a section, in the app's window (its DAW link)",
              lambda w, t: bool(t.view.doc.song.sections) and hasattr(w, "daw_link"))
LOOPS = When("two loops", lambda _w, t: len(t.view.doc.song.loops) > 1)
HAS_RANGE = When("a range selected in the ruler", lambda w: w.timeline.range is not None)

F, E, S, L, TK, LP, T, V = "File", "Edit", "Sections", "Lyrics", "Takes", "Loops", "Transport", "View"
K = QKeySequence.StandardKey  # the platform's own keys for New, Save, Undo…

ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("file.new", "&New…", F, lambda w: w.new_dialog(), (K.New,),
               tip="A new project, its sections from the lyrics' headers, in its own window"),
    ActionSpec("file.open", "&Open…", F, lambda w: w.open_dialog(), (K.Open,),
               tip="Open a project in its own window"),
    ActionSpec("file.save", "&Save", F, lambda w: w.save(), (K.Save,),
               tip="Edits are on disk as they happen: Save waits until the last one is"),
    ActionSpec("file.save_as", "Save &As…", F, lambda w: w.save_as(), (K.SaveAs,),
               tip="A copy of the project (song, takes, renders) under a new name, opened in its own window"),
    ActionSpec("file.render_newest", "&Render newest take for the DAW", F, lambda w: w.render_newest(), ("Ctrl+R",),
               HAS_TAKE, "Render the newest take through the rack's chains, for the DAW"),
    ActionSpec("file.render_song", "Render the &song as comped for the DAW", F, lambda w: w.render_song(),
               ("Ctrl+Shift+R",), HAS_TAKE, "Each section's chosen take, else the song's take, as one render"),
    ActionSpec("file.land", "&Land the song in DAW", F, lambda w: w.daw_link.land_section(None), (), HAS_TAKE,
               "Each section's chosen take, else the song's take, rendered and dropped into the DAW session at its "
               "bars (the DAW link panel says how it went)"),
    ActionSpec("file.renders", "Open the &renders folder", F, lambda w: w.open_renders(),
               tip="The folder of the last render (else of all renders) in the file manager"),
    ActionSpec("file.recent", "Open &recent", F, lambda w: None, submenu=True),
    ActionSpec("file.quit", "&Quit", F, lambda w: w.close(), (K.Quit, "Ctrl+Q"), separator=True,
               tip="Close the window (running jobs: it asks first)"),

    ActionSpec("edit.undo", "&Undo", E, lambda w: w.doc.undo.undo(), (K.Undo,), CAN_UNDO,
               "Undo the last edit, from the app, the DAW or the command line", detail=lambda w: w.doc.undo.undoText()),
    ActionSpec("edit.redo", "&Redo", E, lambda w: w.doc.undo.redo(), (K.Redo, "Ctrl+Shift+Z", "Ctrl+Y"),
               CAN_REDO, "Redo the last undone edit", detail=lambda w: w.doc.undo.redoText()),
    ActionSpec("edit.split_line", "Split line at playhead", E, lambda w: w.split_line(), ("Ctrl+E",), ONE_LINE,
               "The selected line's words in two at the play head", separator=True),
    ActionSpec("edit.merge_lines", "Merge selected lines", E, lambda w: w.merge_lines(), ("Ctrl+M",), LINES,
               "The selected lines as one"),
    ActionSpec("edit.auto_time", "Auto-time untimed lines", E, lambda w: w.auto_time(), ("Ctrl+Shift+T",),
               HAS_LYRICS, "Place the lines that have no time yet, on the sections' bars"),
    ActionSpec("edit.preferences", "&Preferences…", E, lambda w: open_preferences(w), ("Ctrl+,",), separator=True,
               tip="The models folder"),

    # the section selected in the section lane, else the one at the play head; the lane's right-click menu has these
    # too, for the section clicked, at the place clicked
    ActionSpec("section.add", "Add section…", S, sa.add, ("Ctrl+Shift+A",),
               tip="A section of the kind you choose: over the range selected in the ruler, else 4 bars at the play "
               "head", context="section", item_title=lambda w, t: "Add section here", choices=sa.kinds_to_add,
               needs_item=False),
    ActionSpec("section.rename", "Rename section…", S, sa.rename, ("F2",), SECTIONS,
               "The section selected in the section lane, else the one at the play head", context="section",
               item_title=lambda w, t: "Rename…"),
    ActionSpec("section.kind", "Change section kind…", S, sa.change_kind, (), SECTIONS,
               "Verse, chorus, bridge …: its name and colour; sections of a kind are numbered again",
               context="section", item_title=lambda w, t: "Change kind", choices=sa.kinds),
    ActionSpec("section.split", "Split section at play head", S, sa.split, ("Ctrl+Shift+E",), SECTIONS,
               "At the bar nearest the play head (in the lane: nearest the click)", context="section",
               item_title=sa.split_title),
    ActionSpec("section.merge", "Merge section with the next", S, sa.merge, ("Ctrl+Shift+M",), SECTIONS,
               "The section and the one after it, as one", context="section",
               item_title=lambda w, t: "Merge with the next section"),
    ActionSpec("section.delete", "Delete section", S, sa.delete, (), SECTIONS,
               "Its lines stay where they are, in no section", context="section",
               item_title=lambda w, t: "Delete section (its lines stay)"),
    ActionSpec("section.land", "Land section in DAW", S, sa.land, (), IN_APP,
               "Its chosen take (else the song's), rendered and dropped into the DAW session at the section's bar",
               context="section", item_title=lambda w, t: "Land in DAW (its take, at its bar)"),
    ActionSpec("section.follow", "Lines follow section edits", S,
               lambda w, t, on: t.view.set_lines_follow(on),
               tip="On: a moved section's lines move with it, a resized one's keep their place in it. Off: the "
               "lines stay where they are", checked=lambda w, t: t.view.lines_follow, separator=True,
               context="section", needs_item=False),

    ActionSpec("lyrics.import", "&Import LRC…", L, lambda w: w.sheet.import_lrc(),
               tip="Lines and times from an .lrc file, as one edit"),
    ActionSpec("lyrics.export", "&Export LRC…", L, lambda w: w.sheet.export_lrc(), (), HAS_LYRICS,
               "The timed lines as an .lrc file"),
    ActionSpec("lyrics.sheet", "Lyric &sheet", L, lambda w, on: w.show_dock("Lyrics", on), ("Ctrl+Shift+L",),
               tip="Show or hide the lyric sheet", checked=lambda w: not w.docks["Lyrics"].isHidden()),

    # the take selected in the takes list; a take's right-click menu lists these rows for the take clicked
    ActionSpec("takes.edit", "&Edit the selected take…", TK, lambda w, t: w.takes.choose(t.id), (), TAKE,
               "Regenerate selection and Regenerate lines start from this take", context="take"),
    ActionSpec("takes.play", "&Play the selected take", TK, lambda w, t: w.play_take(t.id), (), TAKE,
               "Hear that take alone (double-click in the takes list does the same)", context="take"),
    ActionSpec("takes.compare", "&Compare the selected take (A/B at the play head)", TK,
               lambda w, t: w.compare_take(t.id), (), TAKE, "It becomes B; A/B switches", context="take"),
    ActionSpec("takes.star", "S&tar or unstar the selected take", TK, lambda w, t: w.takes.star(t.id), (), TAKE,
               "A star in the takes list (one undoable edit)", context="take"),
    ActionSpec("takes.render", "&Render the selected take for the DAW", TK, lambda w, t: w.render_take(t.id), (),
               TAKE, "Through the rack's chains, into the renders folder", context="take"),
    ActionSpec("takes.split", "&Split the selected take into stems", TK, lambda w, t: w.split_take(t.id), (),
               TAKE, "A job: the take gets its stems", separator=True, context="take"),
    ActionSpec("takes.split_two", "Split the selected take into &vocal and instrumental", TK,
               lambda w, t: w.split_take(t.id, True), (), TAKE, "A job: two stems", context="take"),
    ActionSpec("takes.grid", "Find the selected take's beat &grid", TK, lambda w, t: w.grid_take(t.id), (), TAKE,
               "A job: its beats and bars, to lock it to the song's tempo", context="take"),
    ActionSpec("takes.lock", "&Lock the selected take to the grid, or unlock it", TK,
               lambda w, t: w.toggle_lock(t.id), (), TAKE,
               "Hear, render and land its grid-locked copy, or its original again (one undoable edit)",
               context="take", detail=lambda w, t: "(locked now)" if t.id in w.doc.song.locked else ""),
    ActionSpec("takes.continue", "Co&ntinue the selected take…", TK, lambda w, t: w.continue_take(t.id), (), TAKE,
               "A new take that keeps it and makes more bars past its end (ACE-Step's extend)", separator=True,
               context="take"),
    ActionSpec("takes.add_part", "&Add a part to the selected take…", TK, lambda w, t: w.add_part(t.id), (), TAKE,
               "A new take with one more instrument made over it (ACE-Step base: its stems plus the new one)",
               context="take"),
    ActionSpec("takes.part_alone", "Take a part &out of the selected take…", TK,
               lambda w, t: w.add_part(t.id, alone=True), (), TAKE,
               "A new take of one instrument of it alone (ACE-Step base: extract)", context="take"),
    ActionSpec("takes.delete", "&Delete the selected take", TK, lambda w, t: w.takes.delete(t.id), (), TAKE,
               "Out of the song (one undoable edit)", separator=True, context="take"),

    # the loop clip selected in the Loops lane, else the one at the play head; a clip's right-click menu lists these
    ActionSpec("loops.play", "Play from bar", LP, lambda w, t: w.play_loop(t.id),
               tip="Play the song (each section's take, every loop) from the loop's bar", context="loop",
               detail=lambda w, t: f"{t.view.doc.song.loop(t.id).bar:g}"),
    ActionSpec("loops.move", "Move to the play head", LP, lambda w, t: t.view.move_loop(t.id, _bar_here(t)),
               (), MOVABLE, "The loop to the bar nearest the play head (one undoable edit)", context="loop",
               detail=_move_detail),
    ActionSpec("loops.land", "Land in DAW (its own track, at its bar)", LP, lambda w, t: w.land_loop(t.id),
               tip="Render the loop and drop it into the DAW session on its own track, at its bar",
               context="loop"),
    ActionSpec("loops.land_all", "Land every loop in DAW", LP,
               lambda w, t: [w.land_loop(lp.id) for lp in w.doc.song.loops], (), LOOPS,
               "Each loop on its own track, at its bar", context="loop"),

    ActionSpec("transport.start", "|◀ Start", T, lambda w: w.return_to_start(), ("Home",),
               tip="Return to the start of the song", toolbar=True),
    ActionSpec("transport.play", "▶ Play/Pause", T, lambda w: w.toggle_play(), ("Space",),
               tip="Play the song as it will be landed (each section's chosen take, the loops at their bars) from "
               "the play head, or pause; double-click a take to hear it alone", toolbar=True),
    ActionSpec("transport.stop", "■ Stop", T, lambda w: w.stop(), ("Ctrl+Space",),
               tip="Stop and go back to where playing started", toolbar=True),
    ActionSpec("transport.loop", "Loop selection", T, lambda w: w.loop(), ("L",), HAS_RANGE,
               "Loop the range selected in the ruler (snapped to the grid)", toolbar=True),
    ActionSpec("transport.ab", "A/B", T, lambda w: w.ab(), ("B",), TWO_TAKES,
               "Switch between the take playing (A) and the one before it (B)", toolbar=True),
    ActionSpec("transport.follow", "Follow", T, lambda w, on: setattr(w.timeline, "follow", on), ("F",),
               tip="Keep the play head in view while playing", toolbar=True, checked=lambda w: w.timeline.follow),
    # no predicate: with no edited take, its key says in the status bar how to make one
    ActionSpec("transport.ab_parent", "A/B edit with its parent", T, lambda w: w.ab_parent(), (PARENT_AB_KEY,),
               tip="Loop the edited range and switch between the selected edited take and the take it came from"),

    ActionSpec("view.zoom_in", "Zoom in", V, lambda w: w.timeline.zoom(1.25), ("+",)),
    ActionSpec("view.zoom_out", "Zoom out", V, lambda w: w.timeline.zoom(0.8), ("-",)),
    ActionSpec("view.fit", "Zoom to fit the song", V, lambda w: w.timeline.fit(), ("Ctrl+0",)),

    ActionSpec("help.shortcuts", "&Keyboard shortcuts", "Help", lambda w: w.show_shortcuts(), ("F1",),
               tip="This list: every action with its keys, and what the mouse does on the timeline"),
)

#: What the mouse and the timeline's own keys do (not actions: no menu), the end of the F1 sheet.
GESTURES = (
    "click in the ruler — locate (snapped; Shift: free)", "drag in the ruler — select a range",
    "drag a line — move it (Shift: free); its right edge — stretch",
    "double-click a line — edit its text in the lyric sheet",
    "zoomed in (word view) — drag a word to retime it (1/16; Shift: free)",
    "click a section — select it; drag it — move it; drag its edge — resize (bars; Shift: free)",
    "double-click a section — rename; right-click a section — the Sections menu for it (add, rename, kind, split at "
    "the bar clicked, merge, delete, land), lines follow, the section's take",
    "right-click a take in the takes list — the Takes menu for that take, and use it for a section (comping)",
    "click a loop clip — select it (the Loops menu acts on it); right-click it — the Loops menu for it",
    "right-click a take lane — use the take for the section under the mouse (comping)",
    "Space — play the song as it will be landed (each section's chosen take, the loops at their bars); double-click "
    "a take in the takes list — hear that take alone; after Stop, Play is the song again",
    "drag a take from the takes list out of the window — its audio and its MIDI (guide takes); drag a section out — "
    "its MIDI; drop them on a DAW or a file manager",
    "drag a loop clip — move it (bars); a bar past the song's end is refused",
    "lyric sheet — type to edit (a new row is an untimed line); click a row — select its line",
    "←/→ — nudge selected lines (Shift: 10 ms)", "T — tap-time the next line at the play head",
    "Ctrl+wheel — zoom; wheel — scroll; PageUp/PageDown/Home — scroll",
)
