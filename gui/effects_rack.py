"""The effects rack: a chain preset and a bypass per stem and for the master; the chosen slot's parameters as
sliders over each knob's range with a value box in its unit, and a bypass per plugin (edits are overrides on top of
the preset, each one undoable); Save as preset. Heard by the player and used by render."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.song.model import MASTER, STEM_SLOTS, EffectSlot

from .background import Background
from .document import DocumentModel

UNITS = {"db": "dB", "hz": "Hz", "khz": "kHz", "ms": "ms", "seconds": "s", "s": "s", "pct": "%"}
TRAVEL = 1000  # slider steps over a knob's range


def readable(name: str) -> str:
    """``threshold_db`` -> "Threshold (dB)", ``HighShelfFilter`` -> "High shelf filter"."""
    if "_" not in name and name[:1].isupper():
        words = re.findall(r"[A-Z][a-z]*|[a-z]+|\d+", name)
        return " ".join([words[0], *(w.lower() for w in words[1:])]) if words else name
    parts = name.split("_")
    unit = UNITS.get(parts[-1]) if len(parts) > 1 else None
    words = parts[:-1] if unit else parts
    text = " ".join(words).capitalize()
    return f"{text} ({unit})" if unit else text


def unit_of(name: str) -> str:
    parts = name.split("_")
    return UNITS.get(parts[-1], "") if len(parts) > 1 else ""


def presets_for(slot: str, names: list[str]) -> list[str]:
    """The shipped presets made for ``slot`` (named ``<slot>-…``), and those made for no slot in particular."""
    slots = {*STEM_SLOTS, MASTER}
    return [n for n in names if n.split("-", 1)[0] == slot or n.split("-", 1)[0] not in slots]


class Knob:
    """Maps a parameter's value to a slider position and back, linearly or logarithmically over its range."""

    def __init__(self, lo: float, hi: float, log: bool):
        self.lo, self.hi, self.log = lo, hi, log and lo > 0

    def to_pos(self, value: float) -> int:
        v = min(max(value, self.lo), self.hi)
        if self.hi <= self.lo:
            return 0
        f = (math.log(v / self.lo) / math.log(self.hi / self.lo)) if self.log else (v - self.lo) / (self.hi - self.lo)
        return round(f * TRAVEL)

    def to_value(self, pos: int) -> float:
        f = pos / TRAVEL
        v = self.lo * (self.hi / self.lo) ** f if self.log else self.lo + f * (self.hi - self.lo)
        return float(f"{v:.4g}")  # what a person would type: 4 significant digits


class EffectsRack(QWidget):
    changed = Signal()

    def __init__(self, doc: DocumentModel):
        super().__init__()
        from presets.effect_chains import shipped_chains

        self.doc = doc
        self.tasks = Background(self, workers=1)  # chains with external plugins are built here
        self.refusals: list[str] = []  # what a parameter edit was refused for, newest last
        outer = QVBoxLayout(self)
        form = QFormLayout()
        outer.addLayout(form)
        self.rows: dict[str, tuple[QComboBox, QCheckBox]] = {}
        self.form = form
        shipped, user = shipped_chains(), self._user_presets()
        for slot in (*STEM_SLOTS, MASTER):
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
        self.slot.addItems([*STEM_SLOTS, MASTER])
        self.params = QTableWidget(0, 3)
        self.params.setHorizontalHeaderLabels(["Parameter", "", "Value"])
        heads = self.params.horizontalHeader()
        heads.setStretchLastSection(False)
        heads.setSectionResizeMode(0, heads.ResizeMode.ResizeToContents)
        heads.setSectionResizeMode(1, heads.ResizeMode.Stretch)
        heads.setSectionResizeMode(2, heads.ResizeMode.ResizeToContents)
        self.params.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.params.verticalHeader().setVisible(False)
        self.params.setWordWrap(False)
        self.params.setMinimumHeight(160)
        self.params.setEditTriggers(QTableWidget.NoEditTriggers)
        self.save_as = QPushButton("Save as preset…")
        outer.addWidget(QLabel("Parameters of"))
        outer.addWidget(self.slot)
        outer.addWidget(self.params, 1)
        outer.addWidget(self.save_as)
        self.slot.currentTextChanged.connect(lambda _t: self.show_params())
        self.save_as.clicked.connect(self._save_dialog)
        doc.songChanged.connect(self.refresh)
        self.refresh()

    @staticmethod
    def _user_presets() -> list[str]:
        from engine.audio.fx import user_preset_dirs

        return sorted({p.stem for d in user_preset_dirs() if d.is_dir() for p in d.glob("*.toml")})

    def used_slots(self) -> set[str]:
        """The stem slots the song's takes have (the guide's four when it has none yet), and the master."""
        used = {s for t in self.doc.song.takes for s in t.stems} & set(STEM_SLOTS)
        return (used or set(STEM_SLOTS[:4])) | {MASTER} | set(self.doc.song.effects)

    def refresh(self) -> None:
        used = self.used_slots()
        for slot in self.rows:
            self.form.setRowVisible(list(self.rows).index(slot), slot in used)
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
        # rebuilt after the event that changed the song: a control being dragged must finish before its table goes
        QTimer.singleShot(0, self, self.show_params)

    def spec(self, slot: str) -> Any:
        from engine.audio.fx import user_preset_dirs
        from presets.effect_chains import find_chain, load_chain

        e = self.doc.song.effects.get(slot)
        if not e or not e.preset:
            return None
        return load_chain(find_chain(e.preset, user_preset_dirs()))

    def show_params(self) -> None:
        slot = self.slot.currentText()
        self.params.setRowCount(0)
        try:
            spec = self.spec(slot)
        except Exception:  # noqa: BLE001 - a preset file that went bad shows no parameters; render names the error
            spec = None
        if spec is not None:
            overrides = self.doc.song.effects[slot].overrides
            for i, plugin in enumerate(spec.plugins):
                bypassed = bool(overrides.get(f"{i}.bypass", plugin.bypass))
                if plugin.type == "external":
                    self._external_row(spec, i, plugin, bypassed)
                else:
                    self._row(readable(plugin.type), f"{i}.bypass", bypassed, f"{readable(plugin.type)}: bypass it "
                              "to hear the chain without it")
                for name, value in plugin.params.items():
                    key = f"{i}.{name}"
                    self._row(readable(name), key, overrides.get(key, value),
                              f"{readable(plugin.type)} · {readable(name)} ({plugin.type}.{name})")

    def _external_row(self, spec: Any, i: int, plugin: Any, bypassed: bool) -> None:
        """An external plugin's header: its file name, and, when this machine has not allowed it (a plugin is native
        code; see engine.audio.consent), why it is not heard and an Allow… button."""
        from engine.audio.fx import plugin_path

        path = plugin_path(plugin, spec)
        name = path.name or str(path)
        refusal = self.refusal(spec, i)
        tip = f"{path}: bypass it to hear the chain without it"
        self._row(f"⚠ {name}: not allowed" if refusal else name, f"{i}.bypass", bypassed, refusal or tip)
        if refusal:
            button = QPushButton("Allow…")
            button.setToolTip(f"Let {path} run on this machine (it is native code that runs with your rights)")
            button.clicked.connect(lambda _c=False, p=path: self.allow_plugin(p))
            self.params.setCellWidget(self.params.rowCount() - 1, 1, button)

    def refusal(self, spec: Any, i: int) -> str:
        """Why plugin ``i`` of ``spec`` will not load here ("" when it may): not allowed, changed, or missing."""
        from engine.audio.fx import plugin_consent, plugin_path
        from engine.errors import PresetError

        try:
            verdict = plugin_consent(plugin_path(spec.plugins[i], spec), f"{spec.source}: plugin[{i}]")
        except PresetError as exc:  # not found, or the allowed list is damaged
            return str(exc)
        return "" if verdict.allowed else f"{verdict.path} is {verdict.reason()}: it is not heard"

    def allow_plugin(self, path: Path, confirm: bool = True) -> bool:
        """Ask, then allow this exact plugin file on this machine; the chain is reloaded when it is allowed."""
        from PySide6.QtWidgets import QMessageBox

        from engine.audio.consent import allow
        from engine.errors import SongBridgeError

        if confirm:
            answer = QMessageBox.question(
                self, "Allow this plugin?",
                f"{path}\n\nThis project's effect chain names this plugin. A plugin is native code that runs with "
                "your rights on this machine. Allow it only if you installed it or trust where it came from.\n\n"
                "The consent is for these exact files: if they change, you will be asked again.",
                QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
            if answer != QMessageBox.Yes:
                return False
        try:
            allow(path)
        except SongBridgeError as exc:
            QMessageBox.warning(self, "Cannot allow the plugin", str(exc))
            return False
        QTimer.singleShot(0, self, self.show_params)
        self.changed.emit()  # the player reloads the chains, now with the plugin
        return True

    def _row(self, text: str, key: str, value: Any, tip: str) -> None:
        from engine.audio.fx import control_range

        r = self.params.rowCount()
        self.params.insertRow(r)
        header = key.endswith(".bypass")  # a plugin's first row: its name and its bypass
        label = QTableWidgetItem(text if header else f"   {text}")
        if header:
            font = label.font()
            font.setBold(True)
            label.setFont(font)
        label.setToolTip(tip)
        label.setData(Qt.UserRole, key)
        self.params.setItem(r, 0, label)
        slot, name = self.slot.currentText(), key.split(".", 1)[1]
        if isinstance(value, bool):
            box = QCheckBox("bypass" if name == "bypass" else "on")
            box.setChecked(value)
            box.toggled.connect(lambda on, k=key: self.set_override(slot, k, bool(on)))
            self.params.setCellWidget(r, 2, box)
            return
        if not isinstance(value, int | float):
            self.params.setItem(r, 2, QTableWidgetItem(str(value)))
            return
        rng = control_range(name) or (min(0.0, value), max(1.0, value * 2), False)
        knob = Knob(min(rng[0], value), max(rng[1], value), rng[2])
        spin = QDoubleSpinBox()
        spin.setRange(knob.lo, knob.hi)
        spin.setDecimals(3 if knob.hi - knob.lo <= 10 else 1)
        spin.setSuffix(f" {unit_of(name)}" if unit_of(name) else "")
        spin.setValue(float(value))
        spin.setKeyboardTracking(False)  # one edit when the number is finished, not one per digit
        spin.setToolTip(f"{tip}: {knob.lo:g} to {knob.hi:g} {unit_of(name)}".rstrip())
        slider = QSlider(Qt.Horizontal)
        slider.setRange(0, TRAVEL)
        slider.setValue(knob.to_pos(float(value)))
        slider.setToolTip(spin.toolTip())
        # Dragging shows the value; letting go (or a click or key step) makes one undoable edit.
        slider.sliderMoved.connect(lambda pos, s=spin, k=knob: (s.blockSignals(True), s.setValue(k.to_value(pos)),
                                                                s.blockSignals(False)))
        slider.sliderReleased.connect(lambda k=key, s=spin: self.set_override(slot, k, s.value()))
        slider.actionTriggered.connect(lambda action, sl=slider, k=key, kn=knob: self._stepped(slot, k, kn, sl, action))
        spin.valueChanged.connect(lambda v, k=key: self.set_override(slot, k, float(v)))
        self.params.setCellWidget(r, 1, slider)
        self.params.setCellWidget(r, 2, spin)

    def _stepped(self, slot: str, key: str, knob: Knob, slider: QSlider, action: int) -> None:
        if action in (QSlider.SliderMove, QSlider.SliderNoAction):
            return  # a drag: committed on release
        QTimer.singleShot(0, self, lambda: self.set_override(slot, key, knob.to_value(slider.value())))

    def set_override(self, slot: str, key: str, value: Any) -> None:
        """One parameter of the slot's chain: checked by building the chain with it (a value the plugin refuses is
        refused, naming why), then one undoable edit. A chain with an external plugin (VST3, native code that may
        take long to load) is built on a worker thread and the edit made when it is done; built-in chains here."""
        e = self.doc.song.effects.get(slot)
        if e is None or e.overrides.get(key) == value:
            return
        from engine.audio.fx import build_board
        from engine.errors import PresetError

        overrides = {**dict(e.overrides), key: value}
        try:
            spec = self.spec(slot)
        except PresetError as exc:
            self._refused(exc)
            return
        if spec is not None and any(p.type == "external" for p in spec.plugins):
            self.tasks.run(lambda: build_board(spec, 44100, overrides),
                           lambda _board: self._set(slot, e.preset, key, value), self._refused)
            return
        try:
            build_board(spec, 44100, overrides)  # refuse a value the plugin refuses
        except PresetError as exc:
            self._refused(exc)
            return
        self._set(slot, e.preset, key, value)

    def _set(self, slot: str, preset: str | None, key: str, value: Any) -> None:
        e = self.doc.song.effects.get(slot)
        if e is None or e.preset != preset:  # the slot changed its chain meanwhile: this value was for the old one
            return
        effects = {**dict(self.doc.song.effects), slot: EffectSlot(e.preset, e.bypass, {**dict(e.overrides),
                                                                                        key: value})}
        self.doc.edit(self.doc.song.replace(effects=effects), f"Effect parameter {slot} {key}")
        self.changed.emit()

    def _refused(self, exc: BaseException) -> None:
        from PySide6.QtWidgets import QToolTip

        self.refusals.append(str(exc))
        QToolTip.showText(self.params.mapToGlobal(self.params.rect().center()), str(exc), self.params)
        QTimer.singleShot(0, self, self.show_params)

    def save_preset(self, slot: str, name: str, folder: Path | None = None) -> Path:
        """The slot's chain with its overrides as a new preset file (user presets folder by default)."""
        import tomli_w

        from engine.audio.fx import user_preset_dirs

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
        from PySide6.QtWidgets import QInputDialog, QMessageBox

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
