"""The app's own settings (``app.toml`` in the user's config folder: ``SONGBRIDGE_CONFIG``, else platformdirs') and
the Preferences dialog: the models folder, with one line per backend saying whether it can run from there.

The models folder the app uses is, in order: ``songbridge gui --models DIR`` (this run only), the folder chosen in
Preferences (remembered), ``SONGBRIDGE_MODELS``, the default. The app hands it to everything it starts through
``SONGBRIDGE_MODELS`` in its own environment, so the panels, the session and a local engine worker started after
the change all read the same folder; changing it re-checks the backends in a thread, without a restart."""

from __future__ import annotations

import html
import json
import os
import tomllib
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QWidget,
)

from engine.errors import SongBridgeError

from .backend_status import BackendChecker, BackendLine

SETTINGS_FILE = "app.toml"
KEYS = ("models_dir",)
MAX_BYTES = 64 * 1024


def settings_path() -> Path:
    from engine.settings import config_dir

    return config_dir() / SETTINGS_FILE


def read_settings(path: Path | None = None) -> dict[str, Any]:
    """The app's settings; a missing file is empty, a broken one an error naming the file and the key."""
    path = path or settings_path()
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SongBridgeError(f"{path}: cannot read: {exc}") from None
    if len(raw) > MAX_BYTES:
        raise SongBridgeError(f"{path}: larger than {MAX_BYTES // 1024} KiB; not the app's settings")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SongBridgeError(f"{path}: not a readable settings file ({exc})") from None
    extra = sorted(set(data) - set(KEYS))
    if extra:
        raise SongBridgeError(f"{path}: unknown key {extra[0]!r} (known: {', '.join(KEYS)})")
    if "models_dir" in data and (not isinstance(data["models_dir"], str) or not data["models_dir"].strip()):
        raise SongBridgeError(f"{path}: models_dir: expected a folder path, got {data['models_dir']!r}")
    return data


def write_settings(data: dict[str, Any], path: Path | None = None) -> Path:
    from engine.song.document import write_atomic

    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{k} = {json.dumps(str(v), ensure_ascii=True)}\n" for k, v in data.items() if k in KEYS)
    write_atomic(path, "# SongBridge app settings (Preferences)\n" + text)
    return path


def remembered_models_dir() -> Path | None:
    try:
        value = read_settings().get("models_dir")
    except SongBridgeError:
        return None
    return Path(value).expanduser() if value else None


def choose_models_dir(explicit: str | None = None) -> tuple[Path, str]:
    """The folder the app uses and where that choice came from (``--models``, ``Preferences``, the env, default)."""
    from engine.settings import models_dir

    if explicit:
        return Path(explicit).expanduser().resolve(), "--models"
    remembered = remembered_models_dir()
    if remembered is not None:
        return remembered.resolve(), f"Preferences ({settings_path()})"
    return models_dir()


def apply_models_dir(folder: Path) -> None:
    """Everything this app runs from now on (panels, session, a worker it starts) uses ``folder``."""
    os.environ["SONGBRIDGE_MODELS"] = str(folder)


def lines_html(lines: list[BackendLine]) -> str:
    """Backend lines as rich text: a mark, the sentence, and a "details" link naming the backend."""
    rows = []
    for ln in lines:
        mark = "✓" if ln.ok else "✗"
        colour = "#7bd88f" if ln.ok else "#ff9e64"
        rows.append(f"<span style='color:{colour}'>{mark}</span> {html.escape(ln.line)}"
                    f" · <a href='{html.escape(ln.name)}' style='color:#4fa3e0'>details</a>")
    return "<br>".join(rows)


def show_details(parent: QWidget, line: BackendLine | None) -> None:
    if line is not None:
        box = QMessageBox(QMessageBox.Information, line.line.split(":")[0], line.details, QMessageBox.Ok, parent)
        box.setTextInteractionFlags(Qt.TextSelectableByMouse)
        box.open()


class PreferencesDialog(QDialog):
    """The models folder (typed or browsed), where the current one came from, and each backend's line for the
    folder in the box, checked in a thread as it changes."""

    modelsChanged = Signal(str)

    def __init__(self, current: Path, origin: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setMinimumWidth(720)
        form = QFormLayout(self)
        self.folder = QLineEdit(str(current))
        self.folder.setToolTip("Where the model weights are: DiffRhythm-1_2-full/, stable-audio-open-small/, "
                               "t5-base/ ... (see `songbridge models status`)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        form.addRow("Models folder", row)
        self.origin = QLabel(f"now: {current} (from {origin})")
        self.origin.setWordWrap(True)
        form.addRow("", self.origin)
        self.status = QLabel("checking…")
        self.status.setTextFormat(Qt.RichText)
        self.status.setWordWrap(True)
        self.status.linkActivated.connect(lambda name: show_details(self, self.checker.lines.get(name)))
        form.addRow("Backends", self.status)
        self.error = QLabel()
        self.error.setStyleSheet("color: #ff9e64")
        form.addRow("", self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self._ok)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.checker = BackendChecker(self)
        self.checker.checked.connect(self._checked)
        self.folder.textChanged.connect(lambda _t: self._recheck())
        self._recheck()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Models folder", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def chosen(self) -> Path:
        return Path(self.folder.text().strip()).expanduser()

    def _recheck(self) -> None:
        self.status.setText("checking…")
        if self.folder.text().strip():
            self.checker.check(self.chosen())

    def _checked(self, folder: str, lines: list) -> None:
        if folder == str(self.chosen()):
            self.status.setText(lines_html(lines))
            self.adjustSize()  # every line shows, however long its path

    def _ok(self) -> None:
        text = self.folder.text().strip()
        if not text:
            self.error.setText("give a folder")
            return
        folder = self.chosen()
        if folder.exists() and not folder.is_dir():
            self.error.setText(f"{folder}: not a folder")
            return
        try:
            write_settings({"models_dir": str(folder.resolve())})
        except SongBridgeError as exc:
            self.error.setText(str(exc))
            return
        self.modelsChanged.emit(str(folder.resolve()))
        self.accept()


def install_preferences(win: Any, choice: tuple[Path, str] | None = None) -> None:
    """The models folder and the backend lines of the main window's Generate and Loops panels, checked in a thread
    now and whenever the folder changes (Edit > Preferences…, a row of ``gui.actions.table``, opens
    :func:`open_preferences`). ``choice``: the folder and its origin (``--models``)."""
    folder, origin = choice or choose_models_dir()
    if origin != "default" and origin != "SONGBRIDGE_MODELS":
        apply_models_dir(folder)
    win.models_dir, win.models_origin = folder, origin
    _local_settings(win, folder, origin)
    win.backend_checker = BackendChecker(win)
    win.backend_checker.checked.connect(lambda _f, lines: _show_lines(win, lines))
    win.backend_checker.check(folder)


def _show_lines(win: Any, lines: list[BackendLine]) -> None:
    win.generation.set_backend_lines(lines)
    win.loops.set_backend_lines(lines)


def _local_settings(win: Any, folder: Path, origin: str) -> None:
    """A local engine is told the folder with every job (a worker it started earlier read the environment then)."""
    from engine.service import EngineService

    session = win.doc.session
    if isinstance(session.engine, EngineService) and origin not in ("default", "SONGBRIDGE_MODELS"):
        session.backend_settings = {**session.backend_settings, "models_dir": str(folder)}


def open_preferences(win: Any) -> PreferencesDialog:
    dialog = PreferencesDialog(win.models_dir, win.models_origin, win)
    dialog.modelsChanged.connect(lambda folder: set_models_dir(win, Path(folder), "Preferences"))
    dialog.open()
    win.preferences_dialog = dialog
    return dialog


def set_models_dir(win: Any, folder: Path, origin: str) -> None:
    """Use ``folder`` from now on, without a restart: the panels show "checking…" until the thread has looked."""
    apply_models_dir(folder)
    win.models_dir, win.models_origin = folder, origin
    _local_settings(win, folder, origin)
    win.generation.lines, win.loops.lines = {}, {}
    win.loops.backend_status.setText("checking…")
    win.backend_checker.check(folder)
    win.statusBar().showMessage(f"models folder: {folder}", 8000)
