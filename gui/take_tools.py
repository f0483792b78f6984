"""What the app does to a take after it is made (mixed into the main window): split it into stems, find its beat
grid, lock it to the project's grid (an undoable switch once the locked copy exists). Each submits a job; none
waits."""

from __future__ import annotations

from typing import Any


def grid_text(take: Any) -> str:
    """" · 123.9 bpm, drift 1.2 %" for a take whose grid was measured, else ""."""
    g = take.analysis.get("grid")
    if not isinstance(g, dict) or not g.get("bpm"):
        return ""
    drift = f", drift {g['drift_pct']:.1f} %" if "drift_pct" in g else ""
    return f" · {g['bpm']:.1f} bpm{drift}"


class TakeTools:
    doc: Any
    engine: Any

    def _models(self) -> Any:
        from engine.settings import models_dir  # noqa: PLC0415

        return models_dir()[0]

    def split_take(self, take_id: str, two: bool = False) -> str:
        from engine.service import SplitJob  # noqa: PLC0415
        from engine.stems.files import find_model  # noqa: PLC0415

        if find_model(self._models()) is None:
            from engine.stems.files import WHERE  # noqa: PLC0415

            self.statusBar().showMessage(f"no stem-separation model: {WHERE}", 10000)  # type: ignore[attr-defined]
            return ""
        return self.engine.submit(SplitJob(self.doc.folder, self.doc.song.take(take_id), self._models(), two,
                                           label=f"Split {take_id} into stems"))

    def grid_take(self, take_id: str, lock: bool = False) -> str:
        from engine.service import GridJob  # noqa: PLC0415

        label = f"{'Lock' if lock else 'Grid of'} {take_id}" + (" to the grid" if lock else "")
        return self.engine.submit(GridJob(self.doc.folder, self.doc.song.take(take_id), self.doc.song.tempo, lock, None,
                                          self._models(), label=label))

    def toggle_lock(self, take_id: str) -> None:
        """Hear (and render, and land) the take's grid-locked copy, or its original again: one undoable edit. The
        first time, the locked copy is made first (a job) and switched on when it is ready."""
        song = self.doc.song
        take = song.take(take_id)
        if take_id in song.locked:
            self.doc.edit(song.replace(locked=tuple(t for t in song.locked if t != take_id)),
                          f"Unlock {take_id} from the grid")
        elif "lock" in take.analysis and (self.doc.project.take_dir(take_id) / "locked" / "mix.wav").is_file():
            self.doc.edit(song.replace(locked=(*song.locked, take_id)), f"Lock {take_id} to the grid")
        else:
            self._lock_when_done = getattr(self, "_lock_when_done", set())
            self._lock_when_done.add(self.grid_take(take_id, lock=True))

    def take_job_finished(self, job_id: str, ended: Any) -> None:
        """A lock job asked for by "Lock to grid" switches the lock on once its files are there."""
        pending = getattr(self, "_lock_when_done", set())
        if job_id in pending:
            pending.discard(job_id)
            for take in getattr(ended, "takes", ()):
                if "lock" in take.analysis and take.id not in self.doc.song.locked:
                    self.doc.edit(self.doc.song.replace(locked=(*self.doc.song.locked, take.id)),
                                  f"Lock {take.id} to the grid")
