"""The window's project files: title, save (everything is saved as it happens; Save waits for the disk), recent
projects, File > New (a project from a lyrics file: its sections from the lyrics' headers, the engine's
``sections_from_lyrics`` through ``prepare_song`` as ``songbridge generate`` makes them, and what was decided shown),
Save As (a copy in its own window), Open (each project in its own window and process), the renders folder."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox


def create_project(path: str, lyrics: str | None = None, notes: list[str] | None = None) -> Path:
    """A new project at ``path``; ``notes`` gets the sentences about it (sections made, lines that did not fit).
    A broken lyrics file, or a folder that exists, is refused before anything is written."""
    from engine.errors import SongBridgeError
    from engine.generation import SongChoices, prepare_song
    from engine.lyrics import parse_file
    from engine.song import Project, Song
    from engine.song.project import project_path

    folder = project_path(path)
    if folder.exists():
        raise SongBridgeError(f"{folder} exists already; choose another name")
    doc = parse_file(lyrics) if lyrics else None
    said = notes if notes is not None else []
    if doc is not None:
        said += doc.warnings
    title = folder.name.removesuffix(".songbridge")
    song = prepare_song(Song(), doc, SongChoices(title=title), first_time=True, notes=said)
    Project.create(folder, song)
    return folder


class ProjectFiles:
    """Mixed into :class:`gui.main_window.MainWindow`."""

    def _title(self) -> None:
        # no "unsaved" star: every edit is on disk as it happens (the session's saver), so there is nothing to lose
        self.setWindowTitle(f"{self.doc.song.info.title} — {self.doc.folder.name} — SongBridge")

    def save(self) -> None:
        self.doc.save()
        self.statusBar().showMessage(f"saved {self.doc.folder}", 3000)
        self._remember(self.doc.folder)

    def _remember(self, folder: Path) -> None:
        s = QSettings("songbridge", "songbridge")
        recent = [str(folder)] + [r for r in (s.value("recent") or []) if r != str(folder)]
        s.setValue("recent", recent[:8])
        self._recent()

    def _recent(self) -> None:
        self.recent_menu.clear()
        for r in QSettings("songbridge", "songbridge").value("recent") or []:
            a = self.recent_menu.addAction(r)
            a.triggered.connect(lambda _c=False, path=r: self.open_project(path))

    def new_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "New project", str(self.doc.folder.parent / "new-song"))
        if not path:
            return
        lyrics, _ = QFileDialog.getOpenFileName(self, "Lyrics for the new song (Cancel: start without)",
                                                str(self.doc.folder.parent), "Lyrics (*.lrc *.txt);;All files (*)")
        notes: list[str] = []
        try:
            folder = self.new_project(path, lyrics or None, notes)
        except Exception as exc:  # noqa: BLE001 - a clear message, nothing created
            QMessageBox.warning(self, "New project", str(exc))
            return
        if notes:
            QMessageBox.information(self, "New project", f"{folder.name}:\n\n" + "\n\n".join(notes))
        self.open_project(str(folder))

    def new_project(self, path: str, lyrics: str | None = None, notes: list[str] | None = None) -> Path:
        """A new project at ``path`` (sections from the lyrics' headers, lines timed or placed on bars), for its
        own window; ``notes`` gets what was decided and what could not be followed (``gui.new_project``)."""
        return create_project(path, lyrics, notes)

    def save_as(self) -> None:
        """A copy of the project (song, takes, renders) under a new name, opened in its own window."""
        import shutil

        path, _ = QFileDialog.getSaveFileName(self, "Save project as", str(self.doc.folder.parent))
        if not path:
            return
        from engine.song.project import project_path

        target = project_path(path)
        if target.exists():
            QMessageBox.warning(self, "Save as", f"{target} exists already; choose another name.")
            return
        source, flush = self.doc.folder, self.doc.session.flush
        self.statusBar().showMessage(f"saving a copy as {target.name}…")

        def copy() -> Path:  # on a worker thread: the saver's last write, then the copy, however big
            flush()
            partial = target.with_name(f".{target.name}.partial")
            shutil.rmtree(partial, ignore_errors=True)
            shutil.copytree(source, partial, symlinks=True,
                            ignore=shutil.ignore_patterns(".songbridge.lock", ".*.tmp", ".*.partial"))
            partial.rename(target)  # a copy cut short by a crash is never taken for a project
            return target

        def failed(exc: BaseException) -> None:
            QMessageBox.warning(self, "Save as", f"could not copy the project to {target}: {exc}")

        def copied(folder: Path) -> None:
            self.statusBar().showMessage(f"saved a copy as {folder}", 5000)
            self.open_project(str(folder))

        self.tasks.run(copy, copied, failed)

    def render_newest(self) -> None:
        if not self.doc.song.takes:
            self.statusBar().showMessage("no take to render yet: generate one first", 5000)
            return
        self.render_take(self.doc.song.takes[-1].id)

    def open_renders(self) -> None:
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        folder = getattr(self, "last_render", None) or self.doc.folder / "renders"
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def open_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open project", str(self.doc.folder.parent))
        if path:
            self.open_project(path)

    def open_project(self, path: str) -> None:
        """Open another project in its own window and process: each project has one owner, and this window's
        session, engine and DAW link stay with this project."""
        import subprocess
        import sys

        from engine.song.lock import read_holder
        from engine.song.project import project_path

        folder = project_path(path)
        holder = read_holder(folder)
        if folder == self.doc.folder:
            self.statusBar().showMessage(f"{folder.name} is this window's project", 5000)
            return
        if holder is not None and holder.host == __import__("socket").gethostname():
            import os

            try:
                os.kill(holder.pid, 0)
                QMessageBox.information(self, "Already open", f"{folder} is open in {holder.describe()}.")
                return
            except OSError:
                pass
        child = subprocess.Popen([sys.executable, "-m", "songbridge", "gui", str(folder), "--osc", "127.0.0.1:0"],
                                 start_new_session=True, stderr=subprocess.PIPE, text=True)
        self._remember(folder)
        self.statusBar().showMessage(f"opening {folder} in a new window…")

        def check() -> None:  # a project that cannot open says why, instead of "opening…" forever
            if child.poll() is None:
                self.statusBar().showMessage(f"{folder.name} opened in a new window", 4000)
                return
            if child.returncode != 0:
                why = (child.stderr.read() if child.stderr else "").strip().splitlines()[-1:] or ["it exited"]
                self.statusBar().showMessage(f"could not open {folder}: {why[0]}", 15000)

        QTimer.singleShot(3000, check)
