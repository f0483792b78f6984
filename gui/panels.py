"""Side panels: generation and takes (the effects rack is in ``effects_rack``, the jobs strip in ``jobs``). Each submits work or edits the document; none waits."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QWidget,
)

from .backend_options import BackendOptions
from .backend_status import LABELS, Estimator
from .background import Background
from .document import DocumentModel
from .preferences import lines_html, show_details


def take_files(folder: Path, take_id: str, stem: str | None = None) -> list[Path]:
    """The files a drag carries: the rendered BWF files when the take was rendered, else the take's own WAVs."""
    rendered = sorted((folder / "renders" / take_id).glob("*.wav"))
    if rendered:
        return [p for p in rendered if stem is None or p.stem.endswith(f"_{stem}")]
    take = folder / "takes" / take_id
    if stem is not None:
        return [take / "stems" / f"{stem}.wav"] if stem != "mix" else [take / "mix.wav"]
    return [take / "mix.wav", *sorted((take / "stems").glob("*.wav"))]


def drag_payload(folder: Path, take_id: str, stem: str | None = None) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in take_files(folder, take_id, stem)])
    return mime


def next_seed(song: Any) -> int:
    """The seed after the project's takes (42 for a new project): reopening never repeats a take."""
    seeds = [t.seed for t in song.takes if isinstance(t.seed, int)]
    return (max(seeds) + 1) % 2**31 if seeds else 42


class GenerationPanel(QWidget):
    generateSong = Signal(dict)
    regenerateSelection = Signal(dict)
    regenerateLines = Signal(dict)

    def __init__(self, doc: DocumentModel):
        super().__init__()
        from engine.backends import registry

        self.doc = doc
        form = QFormLayout(self)
        self.backend = QComboBox()
        for name in registry.names():
            self.backend.addItem(name)
            self.backend.setItemData(self.backend.count() - 1, LABELS.get(name, name), Qt.ToolTipRole)
        if doc.song.takes and self.backend.findText(doc.song.takes[-1].backend) >= 0:
            self.backend.setCurrentText(doc.song.takes[-1].backend)  # go on with what made the last take
        self.availability = QLabel()
        self.availability.setWordWrap(True)
        self.availability.setTextFormat(Qt.RichText)
        self.availability.linkActivated.connect(lambda name: show_details(self, self.lines.get(name)))
        self.lines: dict[str, Any] = {}  # backend -> its line for the models folder (gui.backend_status)
        self.style_text = QLineEdit(doc.song.style.prompt)
        self.style_text.setPlaceholderText("e.g. dreamy synth pop, female vocal")
        self.reference = QLineEdit(doc.song.style.reference_audio or "")
        self.reference.setPlaceholderText("a clip of 10 s or more whose sound to follow (optional)")
        self.reference.setToolTip("Reference audio: its middle 10 s set the style (MuQ-MuLan); copied into the "
                                  "project. Wins over the style words")
        self.style_preset = QComboBox()
        self.style_preset.setToolTip("A saved style (songbridge style save NAME --prompt ... | --audio FILE): "
                                     "needs no style encoder; wins over the words and the reference")
        self.refresh_presets()
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(next_seed(doc.song))
        self.seed.setToolTip("Advances after each generation unless locked; a reopened project goes on after its "
                             "takes' seeds, so Generate never repeats a take")
        self.lock_seed = QCheckBox("lock")
        self.lock_seed.setToolTip("Keep this seed (to vary only the style or the parameters)")
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed)
        seed_row.addWidget(self.lock_seed)
        self.steps = QSpinBox()
        self.steps.setRange(0, 200)  # 0 reads "default": the backend's own step count (ACE-Step turbo: 8)
        self.steps.setSpecialValueText("default")
        self.steps.setValue(0)
        self.cfg = QDoubleSpinBox()
        self.cfg.setRange(0.0, 20.0)
        self.cfg.setValue(4.0)
        self.takes = QSpinBox()
        self.takes.setRange(1, 16)
        self.backend_options = BackendOptions(skip=("steps", "cfg"))  # the rest of the backend's Param list
        self.estimate = QLabel("-")
        form.addRow("Backend", self.backend)
        form.addRow("", self.availability)
        form.addRow("Style", self.style_text)
        form.addRow("Reference", self.reference)
        form.addRow("Saved style", self.style_preset)
        form.addRow("Seed", seed_row)
        form.addRow("Steps", self.steps)
        form.addRow("Guidance", self.cfg)
        form.addRow("Options", self.backend_options)
        form.addRow("Takes", self.takes)
        form.addRow("Estimate", self.estimate)
        self.btn_song = QPushButton("Generate song")
        self.btn_sel = QPushButton("Regenerate selection")
        self.btn_lines = QPushButton("Regenerate lines")
        for b in (self.btn_song, self.btn_sel, self.btn_lines):
            form.addRow(b)
        self.btn_song.setToolTip("Generate the whole song as new takes")
        self.btn_sel.setToolTip("Regenerate the time range selected in the ruler (drag in the ruler to select)")
        self.btn_lines.setToolTip("Regenerate the selected lyric lines (click a line; Ctrl+click for more)")
        self.has_range = False
        self.has_lines = False
        self.btn_song.clicked.connect(lambda: self.generateSong.emit(self.options()))
        self.btn_sel.clicked.connect(lambda: self.regenerateSelection.emit(self.options()))
        self.btn_lines.clicked.connect(lambda: self.regenerateLines.emit(self.options()))
        self.backend.currentTextChanged.connect(self.refresh)
        self.backend_options.changed.connect(self.refresh)  # estimated again with the options set
        self._refreshes = 0
        self.tasks = Background(self, workers=1)  # the line and estimate of a backend, off the GUI thread
        self.estimator = Estimator()  # torch-free in this process (gui.backend_status)
        self.destroyed.connect(self.estimator.close)
        self.refresh()

    def options(self) -> dict[str, Any]:
        preset = self.style_preset.currentData()
        opts = {"backend": self.backend.currentText(), "style": self.style_text.text(), "seed": self.seed.value(),
                "takes": self.takes.value(), "params": self.params(), "style_preset": preset or None,
                "reference": self.reference.text().strip() or None}
        if not self.lock_seed.isChecked():
            self.seed.setValue((self.seed.value() + self.takes.value()) % 2**31)
        return opts

    def params(self) -> dict[str, Any]:
        """The chosen backend's parameters as set here: steps and guidance when it takes them and they are set,
        and its other options (``backend_options``) that are not left at "default"."""
        from engine.backends import registry

        declared = registry.param_specs(self.backend.currentText())
        own = (("steps", self.steps.value() or None), ("cfg", self.cfg.value()))
        return {**{k: v for k, v in own if k in declared and v is not None}, **self.backend_options.values()}

    def showEvent(self, event: Any) -> None:  # Qt's name
        self.refresh_presets()  # a style saved from the command line meanwhile shows up
        super().showEvent(event)

    def refresh_presets(self) -> None:
        """The saved styles, the song's own first selected (shown even when its file is gone)."""
        from engine.style.presets import list_presets

        current = self.doc.song.style.preset
        self.style_preset.blockSignals(True)
        self.style_preset.clear()
        self.style_preset.addItem("(none: words or reference)", None)
        names = [p.name for p in list_presets()[0]]
        for name in names:
            self.style_preset.addItem(name, name)
        if current and current not in names:
            self.style_preset.addItem(f"{current} (missing)", current)
        if current:
            self.style_preset.setCurrentIndex(max(0, self.style_preset.findData(current)))
        self.style_preset.blockSignals(False)

    def set_backend_lines(self, lines: list[Any]) -> None:
        """The models folder was checked (in a thread): each backend's line, used from now on."""
        self.lines = {ln.name: ln for ln in lines}
        self.refresh()

    def set_selection(self, has_range: bool, has_lines: bool) -> None:
        """Regenerate selection / lines are only there when there is something selected to regenerate."""
        self.has_range, self.has_lines = has_range, has_lines
        ok = getattr(self, "backend_ok", True)
        self.btn_song.setEnabled(ok)
        self.btn_sel.setEnabled(ok and has_range)
        self.btn_lines.setEnabled(ok and has_lines)

    def refresh(self) -> None:
        """The chosen backend's controls, its line and its estimate. Only what is known already is read here: a
        backend's line not checked yet and the estimate (which may import torch and read the weights) come from a
        worker thread (``tasks``), so switching backend never stalls the window."""
        from engine.backends import registry

        name = self.backend.currentText()
        declared = registry.param_specs(name)
        for key, box, what in (("steps", self.steps, "Sampler steps"), ("cfg", self.cfg, "Guidance strength")):
            # a control the backend refuses is off, and says so (the guide renderer has neither)
            box.setEnabled(key in declared)
            box.setToolTip(f"{what}: {declared[key].help}" if key in declared
                           else f"{what}: the {name} backend takes none")
        self.backend_options.show_backend(name, declared)
        self._refreshes += 1
        asked = self._refreshes
        line = self.lines.get(name)
        if line is None:  # not checked yet: "checking…", and this backend alone checked in a thread
            from engine.settings import models_dir

            from .backend_status import backend_line

            models = models_dir()[0]
            self.availability.setText("checking…")
            self.tasks.run(lambda: backend_line(name, models), lambda ln: self._line_checked(asked, ln))
            ok = True  # not known yet: the buttons stay on (the session refuses what cannot run)
        else:
            self.availability.setText(lines_html([line]))  # one line; the full report under "details"
            self.availability.setToolTip(line.details)
            ok = line.ok
        self.backend_ok = ok
        self.set_selection(self.has_range, self.has_lines)
        self.estimate.setText("-")
        if line is not None and ok and self.doc.song.duration_s > 0:
            self.estimate.setText("estimating…")
            from engine.settings import models_dir

            args = (name, models_dir()[0], self.doc.folder, self.doc.song.style, self.doc.song.duration_s,
                    self.params())
            self.tasks.run(lambda: self.estimator(*args), lambda text: self._estimated(asked, text),
                           lambda exc: self._estimated(asked, f"- ({exc})"))

    def _line_checked(self, asked: int, line: Any) -> None:
        if line.name not in self.lines:
            self.lines[line.name] = line
        if asked == self._refreshes:
            self.refresh()

    def _estimated(self, asked: int, text: str) -> None:
        if asked == self._refreshes:
            self.estimate.setText(text)


class TakesPanel(QListWidget):
    compare = Signal(str)
    play = Signal(str)
    render = Signal(str)
    split = Signal(str, bool)  # take, two stems (vocal + instrumental)
    grid = Signal(str)
    lock = Signal(str)  # lock to the grid, or unlock (undoable)
    editTake = Signal(str)  # "Edit this take…": Regenerate selection / lines start from it

    def __init__(self, doc: DocumentModel):
        super().__init__()
        self.doc = doc
        #: The take Regenerate selection / lines edit: the one last selected here (None: the session's default)
        self.edit_take: str | None = None
        self.currentItemChanged.connect(lambda item, _prev: self._chosen(item))
        self.setDragEnabled(True)
        self.setIconSize(QSize(0, 0))
        doc.songChanged.connect(self.refresh)
        self.itemChanged.connect(self._renamed)
        self.itemDoubleClicked.connect(lambda it: self.play.emit(it.data(Qt.UserRole)))
        self.refresh()

    def refresh(self) -> None:
        self.blockSignals(True)
        self.clear()
        from .take_tools import grid_text

        for t in reversed(self.doc.song.takes):
            locked = " · locked" if t.id in self.doc.song.locked else ""
            it = QListWidgetItem(("★ " if t.starred else "") + (t.name or t.id) + grid_text(t) + locked)
            it.setData(Qt.UserRole, t.id)
            it.setFlags(it.flags() | Qt.ItemIsEditable | Qt.ItemIsDragEnabled)
            params = ", ".join(f"{k}={v}" for k, v in t.params.items())
            sep = t.analysis.get("separation")
            extra = (f"\nstems by {sep.get('model')} ({', '.join(t.stems)})" if isinstance(sep, dict) else "")
            extra += "\nheard locked to the project's grid" if locked else ""
            it.setToolTip(f"{t.id} · {t.backend} · seed {t.seed}\n{params}\n"
                          + (f"edit of {t.parent}" if t.parent else "") + extra)
            self.addItem(it)
            if t.id == self.edit_take:
                self.setCurrentItem(it)
        if self.edit_take is not None and self.edit_take not in {t.id for t in self.doc.song.takes}:
            self.edit_take = None
        self.blockSignals(False)

    def _chosen(self, item: QListWidgetItem | None) -> None:
        if item is not None:
            self.edit_take = item.data(Qt.UserRole)

    def choose(self, take_id: str) -> None:
        """Make ``take_id`` the take regenerations start from (selected in the list)."""
        for row in range(self.count()):
            if self.item(row).data(Qt.UserRole) == take_id:
                self.setCurrentRow(row)
        self.edit_take = take_id
        self.editTake.emit(take_id)

    def _renamed(self, item: QListWidgetItem) -> None:
        tid = item.data(Qt.UserRole)
        take = self.doc.song.take(tid)
        name = item.text().removeprefix("★ ").removesuffix(" · locked").strip()
        from .take_tools import grid_text

        name = name.removesuffix(grid_text(take)).strip()
        if name and name != (take.name or take.id):
            self.doc.edit(self.doc.song.with_take(dataclasses.replace(take, name=name)), "Rename take")

    def contextMenuEvent(self, event) -> None:
        item = self.itemAt(event.pos())
        if item is None:
            return
        from .actions.items import exec_once

        exec_once(self.take_menu(item.data(Qt.UserRole)), event.globalPos())

    def take_menu(self, take_id: str):  # type: ignore[no-untyped-def]
        """A take's right-click menu: the take becomes the selected one (as a click makes it), then the table's
        rows for a take (the Takes menu's, ``gui.actions.items``) act on it; then "Use this take for <section>"."""
        from .actions.items import item_menu
        from .actions.spec import Target
        from .take_tools import comp_menu

        for row in range(self.count()):
            if self.item(row).data(Qt.UserRole) == take_id and self.currentRow() != row:
                self.setCurrentRow(row)
        menu = item_menu(self, self.window(), Target("take", take_id, view=self))
        menu.addSeparator()
        comp_menu(menu, self.doc, take_id, lambda text: self.window().statusBar().showMessage(text, 8000))
        return menu

    def star(self, take_id: str) -> None:
        take = self.doc.song.take(take_id)
        self.doc.edit(self.doc.song.with_take(dataclasses.replace(take, starred=not take.starred)), "Star take")

    def delete(self, take_id: str) -> None:
        self.doc.edit(self.doc.song.without_take(take_id), "Delete take")

    def startDrag(self, _actions) -> None:
        item = self.currentItem()
        if item is None:
            return
        from . import midi_drag

        tid = item.data(Qt.UserRole)
        drag = QDrag(self)
        drag.setMimeData(midi_drag.with_take_midi(drag_payload(self.doc.folder, tid), self.doc, tid))  # + its .mid
        drag.exec(Qt.CopyAction)
