"""The Generate panel's backend options, built from the chosen backend's declared :class:`~engine.backends.params.
Param` list (the same list ``--param`` is checked against): a list of choices for a string with choices, a number
box within the declared range for a number, a text field for free text. Every option starts at "default" and is
sent only once it is set, so a request from the app carries what the producer chose and the backend's own defaults
otherwise, as the command line and OSC do."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QLineEdit, QSpinBox, QWidget

DEFAULT = "default"


def _number_box(spec: Any) -> QSpinBox | QDoubleSpinBox:
    """A box whose lowest value, one step under the declared range, reads "default" (not sent)."""
    lo = -1e9 if spec.lo is None else float(spec.lo)
    hi = 1e9 if spec.hi is None else float(spec.hi)
    if spec.kind is int:
        whole = QSpinBox()
        whole.setRange(int(max(lo - 1, -2**31)), int(min(hi, 2**31 - 1)))
        whole.setSpecialValueText(DEFAULT)
        whole.setValue(whole.minimum())
        return whole
    box = QDoubleSpinBox()
    step = 0.05 if hi - lo <= 2 else 0.1 if hi - lo <= 50 else 1.0
    box.setDecimals(3 if hi - lo <= 2 else 2)
    box.setSingleStep(step)
    box.setRange(lo - step, hi)
    box.setSpecialValueText(DEFAULT)
    box.setValue(box.minimum())
    return box


class BackendOptions(QWidget):
    """One row per declared parameter of one backend, less the ones the panel has controls of its own for;
    ``changed`` when the producer sets one (the panel estimates again: a refused combination is said there)."""

    changed = Signal()

    def __init__(self, skip: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.skip = skip
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.backend = ""
        self.widgets: dict[str, QWidget] = {}

    def show_backend(self, name: str, specs: Mapping[str, Any]) -> None:
        """Rebuild the rows for ``name`` (nothing to do when it is already shown)."""
        if name == self.backend:
            return
        while self.form.rowCount():
            self.form.removeRow(0)
        self.backend, self.widgets = name, {}
        for key, spec in specs.items():
            if key in self.skip:
                continue
            w: QWidget
            if spec.choices:
                combo = QComboBox()
                combo.addItem(DEFAULT, None)
                for choice in spec.choices:
                    combo.addItem(choice, choice)
                combo.currentIndexChanged.connect(self.changed)
                w = combo
            elif spec.kind in (int, float):
                box = _number_box(spec)
                box.valueChanged.connect(self.changed)
                w = box
            else:
                line = QLineEdit()
                line.setPlaceholderText(DEFAULT)
                line.editingFinished.connect(self.changed)
                w = line
            w.setObjectName(f"option-{key}")
            w.setToolTip(f"{key}: {spec.help} ({spec.allowed()}; {DEFAULT}: the backend's own)")
            self.form.addRow(key.replace("_", " "), w)
            self.widgets[key] = w
        self.setVisible(bool(self.widgets))

    def set(self, key: str, value: Any) -> None:
        """Set one option as the producer would (None: back to the default)."""
        w = self.widgets[key]
        if isinstance(w, QComboBox):
            w.setCurrentIndex(max(0, w.findData(value)))
        elif isinstance(w, QSpinBox):
            w.setValue(w.minimum() if value is None else int(value))
        elif isinstance(w, QDoubleSpinBox):
            w.setValue(w.minimum() if value is None else float(value))
        elif isinstance(w, QLineEdit):
            w.setText("" if value is None else str(value))

    def values(self) -> dict[str, Any]:
        """The options set (those left at "default" are not sent)."""
        out: dict[str, Any] = {}
        for key, w in self.widgets.items():
            value: Any = None
            if isinstance(w, QComboBox):
                value = w.currentData()
            elif isinstance(w, QSpinBox | QDoubleSpinBox):
                value = None if w.value() == w.minimum() else w.value()
            elif isinstance(w, QLineEdit):
                value = w.text().strip() or None
            if value is not None:
                out[key] = value
        return out
