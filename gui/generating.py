"""The window's generation: Generate song, Regenerate selection and Regenerate lines from the Generate panel's
choices (style words, a reference clip copied into the project, a saved style), submitted to the session; the
finished and failed jobs said in the jobs strip and the status bar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import editing


class Generating:
    """Mixed into :class:`gui.main_window.MainWindow`."""

    def _style_from(self, opts: dict[str, Any], song: Any) -> Any:
        """The song's style from the Generate panel: words, a reference clip (checked, then copied into the
        project) and a saved preset. None (with a message) when the reference cannot be used."""
        from dataclasses import replace  # noqa: PLC0415
        from pathlib import Path  # noqa: PLC0415

        from engine.errors import SongBridgeError  # noqa: PLC0415

        style = song.style
        if opts.get("style") is not None:
            style = replace(style, prompt=opts["style"])
        if "style_preset" in opts:
            style = replace(style, preset=opts["style_preset"])
        ref = opts.get("reference")
        if "reference" in opts and not ref:
            style = replace(style, reference_audio=None)
        elif ref and ref != song.style.reference_audio:
            from engine.style.reference import prepare  # noqa: PLC0415

            folder = self.doc.folder
            path = Path(ref).expanduser()
            path = path if path.is_absolute() else folder / path
            try:
                prepare(path)
            except SongBridgeError as exc:
                self.statusBar().showMessage(f"reference not used: {exc}", 15000)
                return None
            if folder.resolve() not in path.resolve().parents:
                import shutil  # noqa: PLC0415

                target = folder / "reference" / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
                path = target
            style = replace(style, reference_audio=str(path.resolve().relative_to(folder.resolve())))
        return style

    def generate(self, opts: dict[str, Any], rng: tuple[float, float] | None) -> str | None:
        from engine.backends.base import EditSpec  # noqa: PLC0415
        from engine.service import PRIORITY_INTERACTIVE  # noqa: PLC0415
        from engine.song import TimeRange  # noqa: PLC0415

        song = self.doc.song
        style = self._style_from(opts, song)
        if style is None:
            return None
        if style != song.style:
            self.doc.edit(song.replace(style=style), "Style")
            song = self.doc.song
        edit = None
        if rng is not None:
            base = song.base_take()
            if base is None:
                self.statusBar().showMessage("generate the song first, then regenerate parts of it", 5000)
                return None
            edit = EditSpec(base.id, (TimeRange(rng[0], min(rng[1], base.duration_s)),))
        label = "song" if rng is None else f"{rng[0]:.1f}-{rng[1]:.1f} s"
        try:
            return self.doc.session.generate(opts["backend"], opts["takes"], opts["seed"], params=opts.get("params"),
                                             edit=edit, priority=PRIORITY_INTERACTIVE, label=label, origin="app")
        except Exception as exc:  # noqa: BLE001 - shown, the app goes on
            self.statusBar().showMessage(str(exc), 8000)
            return None

    def _selection(self) -> None:
        self.generation.set_selection(self.timeline.range is not None, bool(self.timeline.selected))

    def _regenerate_lines(self, opts: dict[str, Any]) -> None:
        song = self.doc.song
        base = song.base_take()
        rng = editing.lines_range(song, self.timeline.selected, base.duration_s if base else None)
        if rng is None:
            self.statusBar().showMessage("select lyric lines first", 4000)
            return
        self.generate(opts, rng)

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
