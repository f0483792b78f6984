"""The effects rack and a chain naming a plugin this machine has not allowed (issue 27, part 3): the rack says so,
offers Allow…, and loads nothing of it before the producer agrees."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.song import EffectSlot, Project, Song
from gui.document import DocumentModel
from tests.native_plugin import build_plugin


def test_the_rack_shows_the_refusal_and_allows_on_request(qtbot, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QMessageBox, QPushButton

    from engine.audio import consent
    from gui.effects_rack import EffectsRack

    monkeypatch.setenv("SONGBRIDGE_CONFIG", str(tmp_path / "config"))
    marker = tmp_path / "marker"
    project = Project.create(tmp_path / "t", Song())
    bundle = build_plugin(project.folder / "fx" / "evil.vst3", marker)
    chain = project.folder / "fx" / "warm.toml"
    chain.write_text('schema_version = 1\n[[plugin]]\ntype = "Gain"\ngain_db = -1.0\n'
                     '[[plugin]]\ntype = "external"\npath = "evil.vst3"\n')
    doc = DocumentModel(project)
    doc.edit(doc.song.replace(effects={"vocal": EffectSlot(str(chain))}), "chain")
    rack = EffectsRack(doc)
    qtbot.addWidget(rack)
    rack.slot.setCurrentText("vocal")
    rack.show_params()

    def row_of(prefix: str) -> int:
        return next(r for r in range(rack.params.rowCount()) if rack.params.item(r, 0).text().startswith(prefix))

    row = row_of("⚠ evil.vst3: not allowed")
    assert f"{bundle} is not allowed on this machine" in rack.params.item(row, 0).toolTip()
    button = rack.params.cellWidget(row, 1)
    assert isinstance(button, QPushButton) and button.text() == "Allow…"
    rack.set_override("vocal", "0.gain_db", -2.0)  # an edit builds the chain: the plugin is refused, not loaded
    assert "vocal" in doc.song.effects and not doc.song.effects["vocal"].overrides
    assert not marker.exists()

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.No)
    button.click()
    assert consent.allowed() == [] and not marker.exists()  # declined: nothing allowed, nothing loaded
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    button.click()
    assert [e.path for e in consent.allowed()] == [str(bundle)]
    qtbot.waitUntil(lambda: any(rack.params.item(r, 0).text() == "evil.vst3" for r in range(rack.params.rowCount())))
