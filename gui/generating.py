"""The window's generation: Generate song, Regenerate selection and Regenerate lines from the Generate panel's
choices (style words, a reference clip copied into the project, a saved style), submitted to the session; the
finished and failed jobs said in the jobs strip and the status bar."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class Generating:
    """Mixed into :class:`gui.main_window.MainWindow`."""

    def _style_from(self, opts: dict[str, Any], song: Any) -> Any:
        """The song's style from the Generate panel: words, a reference clip (checked, then copied into the
        project) and a saved preset. None (with a message) when the reference cannot be used."""
        from dataclasses import replace
        from pathlib import Path

        from engine.errors import SongBridgeError

        style = song.style
        if opts.get("style") is not None:
            style = replace(style, prompt=opts["style"])
        if "style_preset" in opts:
            style = replace(style, preset=opts["style_preset"])
        ref = opts.get("reference")
        if "reference" in opts and not ref:
            style = replace(style, reference_audio=None)
        elif ref and ref != song.style.reference_audio:
            from engine.style.reference import prepare

            folder = self.doc.folder
            path = Path(ref).expanduser()
            path = path if path.is_absolute() else folder / path
            try:
                prepare(path)
            except SongBridgeError as exc:
                self.statusBar().showMessage(f"reference not used: {exc}", 15000)
                return None
            if folder.resolve() not in path.resolve().parents:
                import shutil

                target = folder / "reference" / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
                path = target
            style = replace(style, reference_audio=str(path.resolve().relative_to(folder.resolve())))
        return style

    def generate(self, opts: dict[str, Any], rng: tuple[float, float] | None) -> str | None:
        """Generate song (``rng`` None), or Regenerate selection: the range selected in the ruler."""
        from engine.service import PRIORITY_INTERACTIVE

        if rng is not None:
            return self.regenerate(opts, seconds=(rng,))
        song = self.doc.song
        style = self._style_from(opts, song)
        if style is None:
            return None
        if style != song.style:
            self.doc.edit(song.replace(style=style), "Style")
        try:
            return self.doc.session.generate(opts["backend"], opts["takes"], opts["seed"], params=opts.get("params"),
                                             priority=PRIORITY_INTERACTIVE, label="song", origin="app")
        except Exception as exc:  # noqa: BLE001 - shown, the app goes on
            self.statusBar().showMessage(str(exc), 8000)
            return None

    def regenerate(self, opts: dict[str, Any], *, seconds: tuple[tuple[float, float], ...] = (),
                   lines: tuple[str, ...] = ()) -> str | None:
        """Regenerate selection / Regenerate lines: one call of the session's regenerate, on the take chosen in
        the takes list (none chosen: the section's accepted take, else the newest song take)."""
        from engine.session import Regenerate

        song = self.doc.song
        style = self._style_from(opts, song)
        if style is None:
            return None
        req = Regenerate(seconds=seconds, lines=lines, take=self.takes.edit_take, takes=opts["takes"],
                         seed=opts["seed"], backend=opts["backend"], params=opts.get("params") or {},
                         style=style if style != song.style else None)
        try:
            return self.doc.session.regenerate(req, origin="app")
        except Exception as exc:  # noqa: BLE001 - a refusal (it names the field) is shown, the app goes on
            self.statusBar().showMessage(str(exc), 10000)
            return None

    def _selection(self) -> None:
        self.generation.set_selection(self.timeline.range is not None, bool(self.timeline.selected))

    def _regenerate_lines(self, opts: dict[str, Any]) -> None:
        chosen = set(self.timeline.selected)
        ids = tuple(ln.id for ln in self.doc.song.timed_lines() if ln.id in chosen)
        if not ids:
            self.statusBar().showMessage("select lyric lines first", 4000)
            return
        self.regenerate(opts, lines=ids)

    def _edit_take_chosen(self, take_id: str) -> None:
        self.docks["Generate"].raise_()
        self.statusBar().showMessage(f"Regenerate selection and Regenerate lines now edit {take_id}: select a range "
                                     "in the ruler or lyric lines", 8000)

    def _finished(self, job_id: str, ev: Any) -> None:
        """The session has already put the job's takes in the song (and saved it)."""
        render = getattr(ev, "render", None) or {}
        if render.get("folder"):
            self.last_render = Path(render["folder"])
            text = f"rendered {len(render.get('files', {}))} files to {render['folder']} (File > Open the renders folder)"
            self.jobs.done(job_id, text)
            self.statusBar().showMessage(text, 15000)
            return
        self.jobs.done(job_id, ", ".join(t.id for t in ev.takes) + " ready" if ev.takes else "done")
        if ev.takes:
            self.statusBar().showMessage(f"{', '.join(t.id for t in ev.takes)} ready", 5000)

    def _failed(self, job_id: str, message: str) -> None:
        self.jobs.done(job_id, f"failed: {message[:80]}")
        self.statusBar().showMessage(f"job failed: {message}", 10000)
