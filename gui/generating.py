"""The window's generation: Generate song, Regenerate selection and Regenerate lines from the Generate panel's
choices (style words, a reference clip copied into the project, a saved style), submitted to the session; the
finished and failed jobs said in the jobs strip and the status bar."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


class Generating:
    """Mixed into :class:`gui.main_window.MainWindow`."""

    def _with_style(self, opts: dict[str, Any], go: Callable[[Any], str | None]) -> str | None:
        """Call ``go(style)`` with the song's style from the Generate panel: words, a saved preset and a reference
        clip. A new clip is checked and copied into the project on a worker thread (``tasks``) first, and ``go``
        runs when it is there (this returns None meanwhile); a clip that cannot be used is said in the status bar
        and nothing is queued."""
        from dataclasses import replace

        song = self.doc.song
        style = song.style
        if opts.get("style") is not None:
            style = replace(style, prompt=opts["style"])
        if "style_preset" in opts:
            style = replace(style, preset=opts["style_preset"])
        ref = opts.get("reference")
        if "reference" in opts and not ref:
            style = replace(style, reference_audio=None)
        elif ref and ref != song.style.reference_audio:
            words = style
            self.statusBar().showMessage(f"reading the reference clip {Path(ref).name}…", 10000)

            def refused(exc: BaseException) -> None:
                self.statusBar().showMessage(f"reference not used: {exc}", 15000)

            session = self.doc.session
            self.tasks.run(lambda: session.bring_reference(ref),
                           lambda rel: go(replace(words, reference_audio=rel)), refused)
            return None
        return go(style)

    def generate(self, opts: dict[str, Any], rng: tuple[float, float] | None) -> str | None:
        """Generate song (``rng`` None), or Regenerate selection: the range selected in the ruler. Returns the job
        id (None: refused, or queued once a new reference clip is copied)."""
        if rng is not None:
            return self.regenerate(opts, seconds=(rng,))
        return self._with_style(opts, lambda style: self._generate_song(opts, style))

    def _generate_song(self, opts: dict[str, Any], style: Any) -> str | None:
        from engine.service import PRIORITY_INTERACTIVE

        try:  # the style the panel chose becomes the song's (one undoable edit) in the same session call
            return self.doc.session.generate(opts["backend"], opts["takes"], opts["seed"], params=opts.get("params"),
                                             style=style, priority=PRIORITY_INTERACTIVE, label="song", origin="app")
        except Exception as exc:  # noqa: BLE001 - shown, the app goes on
            self.statusBar().showMessage(str(exc), 8000)
            return None

    def regenerate(self, opts: dict[str, Any], *, seconds: tuple[tuple[float, float], ...] = (),
                   lines: tuple[str, ...] = ()) -> str | None:
        """Regenerate selection / Regenerate lines: one call of the session's regenerate, on the take chosen in
        the takes list (none chosen: the section's accepted take, else the newest song take)."""
        return self._with_style(opts, lambda style: self._regenerate(opts, style, seconds, lines))

    def _regenerate(self, opts: dict[str, Any], style: Any, seconds: tuple[tuple[float, float], ...],
                    lines: tuple[str, ...]) -> str | None:
        from engine.session import Regenerate

        song = self.doc.song
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
