"""Side panels: generation, takes and the effects rack (the jobs strip is in ``jobs``). Each submits work or edits the document; none waits."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QSize, Qt, QTimer, QUrl, Signal
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
    QVBoxLayout,
    QWidget,
)

from engine.song.model import MASTER, STEMS, EffectSlot

from .document import DocumentModel


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
        from engine.backends import registry  # noqa: PLC0415

        self.doc = doc
        form = QFormLayout(self)
        self.backend = QComboBox()
        for name in registry.names():
            self.backend.addItem(name)
        if doc.song.takes and self.backend.findText(doc.song.takes[-1].backend) >= 0:
            self.backend.setCurrentText(doc.song.takes[-1].backend)  # go on with what made the last take
        self.availability = QLabel()
        self.availability.setWordWrap(True)
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
        self.steps.setRange(2, 200)
        self.steps.setValue(32)
        self.cfg = QDoubleSpinBox()
        self.cfg.setRange(0.0, 20.0)
        self.cfg.setValue(4.0)
        self.takes = QSpinBox()
        self.takes.setRange(1, 16)
        self.estimate = QLabel("-")
        form.addRow("Backend", self.backend)
        form.addRow("", self.availability)
        form.addRow("Style", self.style_text)
        form.addRow("Reference", self.reference)
        form.addRow("Saved style", self.style_preset)
        form.addRow("Seed", seed_row)
        form.addRow("Steps", self.steps)
        form.addRow("Guidance", self.cfg)
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
        self.refresh()

    def options(self) -> dict[str, Any]:
        from engine.backends import registry  # noqa: PLC0415

        declared = registry.param_specs(self.backend.currentText())
        params = {k: v for k, v in (("steps", self.steps.value()), ("cfg", self.cfg.value())) if k in declared}
        preset = self.style_preset.currentData()
        opts = {"backend": self.backend.currentText(), "style": self.style_text.text(), "seed": self.seed.value(),
                "takes": self.takes.value(), "params": params, "style_preset": preset or None,
                "reference": self.reference.text().strip() or None}
        if not self.lock_seed.isChecked():
            self.seed.setValue((self.seed.value() + self.takes.value()) % 2**31)
        return opts

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        self.refresh_presets()  # a style saved from the command line meanwhile shows up
        super().showEvent(event)

    def refresh_presets(self) -> None:
        """The saved styles, the song's own first selected (shown even when its file is gone)."""
        from engine.style.presets import list_presets  # noqa: PLC0415

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

    def set_selection(self, has_range: bool, has_lines: bool) -> None:
        """Regenerate selection / lines are only there when there is something selected to regenerate."""
        self.has_range, self.has_lines = has_range, has_lines
        ok = getattr(self, "backend_ok", True)
        self.btn_song.setEnabled(ok)
        self.btn_sel.setEnabled(ok and has_range)
        self.btn_lines.setEnabled(ok and has_lines)

    def refresh(self) -> None:
        from engine.backends import registry  # noqa: PLC0415

        backend = registry.create(self.backend.currentText())
        ok, reason = backend.available()
        self.availability.setText(("available: " if ok else "unavailable: ") + reason)
        self.availability.setToolTip(reason)
        self.backend_ok = ok
        self.set_selection(self.has_range, self.has_lines)
        self.estimate.setText("-")
        if ok and self.doc.song.duration_s > 0:
            from engine.backends.base import GenerationRequest  # noqa: PLC0415

            req = GenerationRequest("est", self.doc.folder / "takes" / "est", (), self.doc.song.style,
                                    max(1.0, self.doc.song.duration_s), 0,
                                    params={k: v for k, v in (("steps", self.steps.value()),)
                                            if k in getattr(backend, "params", {})})
            from engine.estimates import estimate_seconds  # noqa: PLC0415

            seconds, mem = backend.estimate(req)
            seconds = estimate_seconds(backend.name, req.duration_s, seconds)
            self.estimate.setText(f"about {seconds:.1f} s, {mem / 2**20:.0f} MiB per take")


class TakesPanel(QListWidget):
    compare = Signal(str)
    play = Signal(str)
    render = Signal(str)

    def __init__(self, doc: DocumentModel):
        super().__init__()
        self.doc = doc
        self.setDragEnabled(True)
        self.setIconSize(QSize(0, 0))
        doc.songChanged.connect(self.refresh)
        self.itemChanged.connect(self._renamed)
        self.itemDoubleClicked.connect(lambda it: self.play.emit(it.data(Qt.UserRole)))
        self.refresh()

    def refresh(self) -> None:
        self.blockSignals(True)
        self.clear()
        for t in reversed(self.doc.song.takes):
            it = QListWidgetItem(("★ " if t.starred else "") + (t.name or t.id))
            it.setData(Qt.UserRole, t.id)
            it.setFlags(it.flags() | Qt.ItemIsEditable | Qt.ItemIsDragEnabled)
            params = ", ".join(f"{k}={v}" for k, v in t.params.items())
            it.setToolTip(f"{t.id} · {t.backend} · seed {t.seed}\n{params}\n"
                          + (f"edit of {t.parent}" if t.parent else ""))
            self.addItem(it)
        self.blockSignals(False)

    def _renamed(self, item: QListWidgetItem) -> None:
        tid = item.data(Qt.UserRole)
        take = self.doc.song.take(tid)
        name = item.text().removeprefix("★ ").strip()
        if name and name != (take.name or take.id):
            self.doc.edit(self.doc.song.with_take(dataclasses.replace(take, name=name)), "Rename take")

    def contextMenuEvent(self, event) -> None:  # noqa: N802
        from PySide6.QtWidgets import QMenu  # noqa: PLC0415

        item = self.itemAt(event.pos())
        if item is None:
            return
        tid = item.data(Qt.UserRole)
        menu = QMenu(self)
        actions = {menu.addAction("Play"): lambda: self.play.emit(tid),
                   menu.addAction("Compare (A/B at the play head)"): lambda: self.compare.emit(tid),
                   menu.addAction("Star / unstar"): lambda: self.star(tid),
                   menu.addAction("Render for the DAW"): lambda: self.render.emit(tid),
                   menu.addAction("Delete"): lambda: self.delete(tid)}
        chosen = menu.exec(event.globalPos())
        if chosen in actions:
            actions[chosen]()

    def star(self, take_id: str) -> None:
        take = self.doc.song.take(take_id)
        self.doc.edit(self.doc.song.with_take(dataclasses.replace(take, starred=not take.starred)), "Star take")

    def delete(self, take_id: str) -> None:
        self.doc.edit(self.doc.song.without_take(take_id), "Delete take")

    def startDrag(self, _actions) -> None:  # noqa: N802
        item = self.currentItem()
        if item is None:
            return
        drag = QDrag(self)
        drag.setMimeData(drag_payload(self.doc.folder, item.data(Qt.UserRole)))
        drag.exec(Qt.CopyAction)


UNITS = {"db": "dB", "hz": "Hz", "khz": "kHz", "ms": "ms", "seconds": "s", "s": "s", "pct": "%"}


def readable(name: str) -> str:
    """``threshold_db`` -> "Threshold (dB)", ``HighShelfFilter`` -> "High shelf filter"."""
    import re  # noqa: PLC0415

    if "_" not in name and name[:1].isupper():
        words = re.findall(r"[A-Z][a-z]*|[a-z]+|\d+", name)
        return " ".join([words[0], *(w.lower() for w in words[1:])]) if words else name
    parts = name.split("_")
    unit = UNITS.get(parts[-1]) if len(parts) > 1 else None
    words = parts[:-1] if unit else parts
    text = " ".join(words).capitalize()
    return f"{text} ({unit})" if unit else text


def presets_for(slot: str, names: list[str]) -> list[str]:
    """The shipped presets made for ``slot`` (named ``<slot>-…``), and those made for no slot in particular."""
    slots = {*STEMS, MASTER}
    return [n for n in names if n.split("-", 1)[0] == slot or n.split("-", 1)[0] not in slots]


class EffectsRack(QWidget):
    """A preset and a bypass per stem and for the master, the chosen slot's parameters (edits are overrides on top
    of the preset), and Save as preset. Heard by the player and used by render."""

    changed = Signal()

    def __init__(self, doc: DocumentModel):
        super().__init__()
        from PySide6.QtWidgets import QTableWidget  # noqa: PLC0415

        from presets.effect_chains import shipped_chains  # noqa: PLC0415

        self.doc = doc
        outer = QVBoxLayout(self)
        form = QFormLayout()
        outer.addLayout(form)
        self.rows: dict[str, tuple[QComboBox, QCheckBox]] = {}
        shipped, user = shipped_chains(), self._user_presets()
        for slot in (*STEMS, MASTER):
            combo = QComboBox()
            combo.addItems(["(none)", *presets_for(slot, shipped), *user])
            combo.setToolTip(f"Effect chain for {slot}: the presets made for {slot}, and your own")
            bypass = QCheckBox("bypass")
            bypass.setToolTip(f"Hear {slot} without its chain (A/B the effect)")
            row = QHBoxLayout()
            row.addWidget(combo, 1)
            row.addWidget(bypass)
            form.addRow(slot, row)
            self.rows[slot] = (combo, bypass)
            combo.currentTextChanged.connect(lambda _t, s=slot: self.apply(s))
            bypass.toggled.connect(lambda _b, s=slot: self.apply(s))
        self.slot = QComboBox()
        self.slot.addItems([*STEMS, MASTER])
        self.params = QTableWidget(0, 2)
        self.params.setHorizontalHeaderLabels(["Parameter", "Value"])
        self.params.horizontalHeader().setStretchLastSection(True)
        self.params.verticalHeader().setVisible(False)
        self.params.setWordWrap(False)
        self.params.setMinimumHeight(160)
        self.save_as = QPushButton("Save as preset…")
        outer.addWidget(QLabel("Parameters of"))
        outer.addWidget(self.slot)
        outer.addWidget(self.params, 1)
        outer.addWidget(self.save_as)
        self.slot.currentTextChanged.connect(lambda _t: self.show_params())
        self.params.itemChanged.connect(self._param_edited)
        self.save_as.clicked.connect(self._save_dialog)
        doc.songChanged.connect(self.refresh)
        self.refresh()

    @staticmethod
    def _user_presets() -> list[str]:
        from engine.audio.fx import user_preset_dirs  # noqa: PLC0415

        return sorted({p.stem for d in user_preset_dirs() if d.is_dir() for p in d.glob("*.toml")})

    def refresh(self) -> None:
        for slot, (combo, bypass) in self.rows.items():
            e = self.doc.song.effects.get(slot)
            combo.blockSignals(True)
            bypass.blockSignals(True)
            if e and e.preset and combo.findText(e.preset) < 0:
                combo.addItem(e.preset)  # a preset the song uses is always shown, wherever it came from
            combo.setCurrentText(e.preset if e and e.preset else "(none)")
            bypass.setChecked(bool(e and e.bypass))
            combo.blockSignals(False)
            bypass.blockSignals(False)
        # rebuilt after the event that changed the song: an open cell editor must finish before its table changes
        QTimer.singleShot(0, self, self.show_params)

    def spec(self, slot: str) -> Any:
        from engine.audio.fx import user_preset_dirs  # noqa: PLC0415
        from presets.effect_chains import find_chain, load_chain  # noqa: PLC0415

        e = self.doc.song.effects.get(slot)
        if not e or not e.preset:
            return None
        return load_chain(find_chain(e.preset, user_preset_dirs()))

    def show_params(self) -> None:
        from PySide6.QtWidgets import QTableWidgetItem  # noqa: PLC0415

        slot = self.slot.currentText()
        self.params.blockSignals(True)
        self.params.setRowCount(0)
        try:
            spec = self.spec(slot)
        except Exception:  # noqa: BLE001
            spec = None
        if spec is not None:
            overrides = self.doc.song.effects[slot].overrides
            for i, plugin in enumerate(spec.plugins):
                for name, value in plugin.params.items():
                    key = f"{i}.{name}"
                    r = self.params.rowCount()
                    self.params.insertRow(r)
                    label = QTableWidgetItem(f"{readable(plugin.type)} · {readable(name)}")
                    label.setToolTip(f"{plugin.type}.{name}")
                    label.setFlags(label.flags() & ~Qt.ItemIsEditable)
                    label.setData(Qt.UserRole, key)
                    self.params.setItem(r, 0, label)
                    self.params.setItem(r, 1, QTableWidgetItem(str(overrides.get(key, value))))
        self.params.resizeColumnToContents(0)
        self.params.blockSignals(False)

    def _param_edited(self, item: Any) -> None:
        if item.column() != 1:
            return
        slot = self.slot.currentText()
        key = self.params.item(item.row(), 0).data(Qt.UserRole)
        try:
            value: Any = float(item.text())
        except ValueError:
            value = item.text().strip().lower() in ("1", "true", "on", "yes")
        self.set_override(slot, key, value)

    def set_override(self, slot: str, key: str, value: Any) -> None:
        e = self.doc.song.effects.get(slot)
        if e is None:
            return
        from engine.audio.fx import build_board  # noqa: PLC0415
        from engine.errors import PresetError  # noqa: PLC0415

        overrides = {**dict(e.overrides), key: value}
        try:
            build_board(self.spec(slot), 44100, overrides)  # refuse a value the plugin refuses
        except PresetError as exc:
            from PySide6.QtWidgets import QToolTip  # noqa: PLC0415

            QToolTip.showText(self.params.mapToGlobal(self.params.rect().center()), str(exc), self.params)
            self.show_params()
            return
        effects = {**dict(self.doc.song.effects), slot: EffectSlot(e.preset, e.bypass, overrides)}
        self.doc.edit(self.doc.song.replace(effects=effects), f"Effect parameter {slot} {key}")
        self.changed.emit()

    def save_preset(self, slot: str, name: str, folder: Path | None = None) -> Path:
        """The slot's chain with its overrides as a new preset file (user presets folder by default)."""
        import tomli_w  # noqa: PLC0415

        from engine.audio.fx import user_preset_dirs  # noqa: PLC0415

        spec = self.spec(slot)
        if spec is None:
            raise ValueError(f"{slot} has no effect chain to save")
        overrides = dict(self.doc.song.effects[slot].overrides)
        plugins = []
        for i, plug in enumerate(spec.plugins):
            params = {**plug.params, **{k.split(".", 1)[1]: v for k, v in overrides.items()
                                        if k.startswith(f"{i}.") and k.split(".", 1)[1] != "bypass"}}
            entry = {"type": plug.type, **({"path": plug.path, "parameters": params} if plug.type == "external"
                                           else params)}
            if overrides.get(f"{i}.bypass", plug.bypass):
                entry["bypass"] = True
            plugins.append(entry)
        folder = folder or user_preset_dirs()[-1]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.toml"
        path.write_text(tomli_w.dumps({"schema_version": 1, "name": name, "description": f"from {spec.name}",
                                       "plugin": plugins}))
        return path

    def _save_dialog(self) -> None:
        from PySide6.QtWidgets import QInputDialog, QMessageBox  # noqa: PLC0415

        name, ok = QInputDialog.getText(self, "Save as preset", "Name:")
        if ok and name.strip():
            try:
                path = self.save_preset(self.slot.currentText(), name.strip())
            except Exception as exc:  # noqa: BLE001
                QMessageBox.warning(self, "Cannot save", str(exc))
                return
            for combo, _ in self.rows.values():
                combo.addItem(path.stem)

    def apply(self, slot: str) -> None:
        combo, bypass = self.rows[slot]
        preset = None if combo.currentText() == "(none)" else combo.currentText()
        effects = dict(self.doc.song.effects)
        if preset is None and not bypass.isChecked():
            effects.pop(slot, None)
        else:
            old = effects.get(slot)
            keep = dict(old.overrides) if old and old.preset == preset else {}
            effects[slot] = EffectSlot(preset, bypass.isChecked(), keep)
        self.slot.setCurrentText(slot)  # show the parameters of the slot just changed
        self.doc.edit(self.doc.song.replace(effects=effects), f"Effects: {slot}")
        self.changed.emit()
