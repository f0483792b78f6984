"""The DAW link panel: where the bridge listens, who has talked to it, what the DAW's clock says, and whether the
project's DAW adapter can land stems (a Test button), a Land button and the last landing; where the DAW's OSC
listens (host and port, set here as over OSC), Pull (the DAW's tempo and markers into the song, undoable) and Push
(the song's sections and tempo into the DAW) and their last result. Land is one session call (``land_section``, which
the table's rows "Land the song in DAW" and a section's "Land in DAW" run too); the other buttons send the bridge the
same command as the OSC address they name (``/songbridge/daw/set/osc``, ``/daw/pull``, ``/daw/push``). Reads the
bridge and the session twice a second."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


def _ago(t: float) -> str:
    s = max(0.0, time.time() - t)
    return f"{s:.0f} s ago" if s < 120 else f"{s / 60:.0f} min ago"


class DawLinkPanel(QWidget):
    def __init__(self, session: Any, bridge: Any = None, off_reason: str = ""):
        super().__init__()
        self.session, self.bridge, self.off_reason = session, bridge, off_reason
        form = QFormLayout()
        self.osc = QLabel()
        self.midi = QLabel()
        self.follow = QLabel()
        self.clock = QLabel()
        self.adapter = QLabel()
        for w in (self.osc, self.midi, self.adapter):
            w.setWordWrap(True)
        form.addRow("OSC", self.osc)
        form.addRow("MIDI", self.midi)
        follow_row = QHBoxLayout()
        follow_row.addWidget(self.follow, 1)
        self.follow_box = QCheckBox("Follow the DAW")
        self.follow_box.setToolTip("Follow the DAW's transport: its MIDI clock, and with an Ardour link Ardour's own "
                                   "OSC feedback; the play head is the DAW's (/songbridge/transport/set/follow; "
                                   "remembered in the project)")
        self.follow_box.clicked.connect(self.set_follow)
        follow_row.addWidget(self.follow_box)
        form.addRow("Follow", follow_row)
        form.addRow("DAW clock", self.clock)
        row = QHBoxLayout()
        row.addWidget(self.adapter, 1)
        self.test = QPushButton("Test")
        self.test.setToolTip("Check that stems can be landed in the DAW now")
        self.test.clicked.connect(self.run_test)
        row.addWidget(self.test)
        form.addRow("Adapter", row)
        land_row = QHBoxLayout()
        self.land_what = QComboBox()
        self.land_what.setToolTip("What to land: a section (its accepted take) or the whole song")
        land_row.addWidget(self.land_what, 1)
        self.land_button = QPushButton("Land in DAW")
        self.land_button.setToolTip("Render the stems and drop them into the DAW session at the section's bar")
        self.land_button.clicked.connect(self.land)
        land_row.addWidget(self.land_button)
        form.addRow("Land", land_row)
        osc_row = QHBoxLayout()
        self.daw_host = QLineEdit()
        self.daw_host.setToolTip("The host the DAW's OSC listens on (Ardour: Edit > Preferences > Control Surfaces)")
        self.daw_port = QSpinBox()
        self.daw_port.setRange(0, 65535)
        self.daw_port.setSpecialValueText("find")
        self.daw_port.setToolTip("The DAW's OSC port (Ardour: 3819 unless set; 0 / find: the port the running "
                                 "Ardour listens on)")
        self.daw_set = QPushButton("Set")
        self.daw_set.setToolTip("Use this OSC address for the DAW (undoable; /songbridge/daw/set/osc)")
        self.daw_set.clicked.connect(self.set_osc)
        osc_row.addWidget(self.daw_host, 1)
        osc_row.addWidget(self.daw_port)
        osc_row.addWidget(self.daw_set)
        form.addRow("DAW OSC", osc_row)
        sync_row = QHBoxLayout()
        self.pull_button = QPushButton("Pull from DAW")
        self.pull_button.setToolTip("The session's tempo map and markers become the song's tempo and sections "
                                    "(undoable; /songbridge/daw/pull)")
        self.pull_button.clicked.connect(lambda: self.sync("pull"))
        self.push_button = QPushButton("Push to DAW")
        self.push_button.setToolTip("The song's sections become range markers in the session, its tempo the "
                                    "session's, through a running Ardour that has it open (/songbridge/daw/push)")
        self.push_button.clicked.connect(lambda: self.sync("push"))
        sync_row.addWidget(self.pull_button)
        sync_row.addWidget(self.push_button)
        form.addRow("Tempo, markers", sync_row)
        self.synced = QLabel("nothing pulled or pushed yet")
        self.synced.setWordWrap(True)
        form.addRow("Last sync", self.synced)
        self.landed = QLabel("nothing landed yet")
        self.landed.setWordWrap(True)
        form.addRow("Last landing", self.landed)
        self.refused = QLabel("none")
        self.refused.setWordWrap(True)
        self.refused.setToolTip("The last command from MIDI (or this app) that SongBridge refused, and why")
        form.addRow("Last refusal", self.refused)
        self.peers = QTableWidget(0, 4)
        self.peers.setHorizontalHeaderLabels(["Peer", "Last command", "When", "Messages"])
        self.peers.horizontalHeader().setStretchLastSection(True)
        self.peers.verticalHeader().setVisible(False)
        self.test_result = ""
        self.testing = False
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(QLabel("Peers seen"))
        lay.addWidget(self.peers, 1)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(500)
        self.refresh()

    def land(self) -> None:
        """The Land button: what the box names (a section, or the whole song), as the table's rows land it."""
        self.land_section(self.land_what.currentData(), self.land_what.currentText())

    def land_section(self, section: str | None, what: str = "") -> None:
        """Land a section's accepted take (None: the whole song) in the DAW: one session call, on the bridge's
        thread (the rows "Land the song in DAW" and a section's "Land in DAW", and the Land button)."""
        if self.bridge is None:
            self.landed.setText("✖ the DAW bridge is off" + (f": {self.off_reason}" if self.off_reason else ""))
            return
        self.bridge.run_later(lambda b=self.bridge: b.session.land(None, section, origin="app"))  # one session call
        self.landed.setText(f"landing {what or section or 'the whole song'} …")

    def _send(self, command: Any, address: str) -> bool:
        from daw_bridge import protocol as p

        if self.bridge is None:
            self.synced.setText("✖ the DAW bridge is off" + (f": {self.off_reason}" if self.off_reason else ""))
            return False
        self.bridge.commands.put(p.Envelope(command, address, None, "gui"))
        return True

    def set_follow(self, on: bool) -> None:
        from daw_bridge import protocol as p

        if self.bridge is None:
            self.follow_box.setChecked(self.session.transport.follow)
            self.refused.setText("✖ the DAW bridge is off" + (f": {self.off_reason}" if self.off_reason else ""))
            return
        self.bridge.commands.put(p.Envelope(p.FollowTransport(bool(on)), "/songbridge/transport/set/follow", None,
                                            "gui"))

    def set_osc(self) -> None:
        from daw_bridge import protocol as p

        self._send(p.DawOsc(self.daw_host.text(), self.daw_port.value()), "/songbridge/daw/set/osc")

    def sync(self, direction: str) -> None:
        from daw_bridge import protocol as p

        if self._send(p.DawSync(direction), f"/songbridge/daw/{direction}"):
            self.synced.setText(("pulling from" if direction == "pull" else "pushing to") + " the DAW …")

    def run_test(self) -> None:
        """Check the link off the GUI thread (asking Ardour takes up to seconds); ``refresh`` shows the answer."""
        import threading

        from daw_bridge.adapters.check import check_link

        if self.testing:
            return
        self.testing = True
        self.test_result = "testing …"
        song, folder = self.session.song, self.session.folder

        def work() -> None:
            try:
                ok, text = check_link(song, folder)
            except Exception as exc:  # noqa: BLE001 - the panel says what went wrong, the app goes on
                ok, text = False, f"the check itself failed: {exc}"
            self.test_result = ("✔ " if ok else "✖ ") + text
            self.testing = False

        threading.Thread(target=work, name="daw-link-test", daemon=True).start()
        self.refresh()

    def refresh(self) -> None:
        b = self.bridge
        if b is None:
            self.osc.setText(f"off: {self.off_reason}" if self.off_reason else "off")
            self.midi.setText("off")
        else:
            h, port = b.osc.address
            osc = b.osc
            extra = f"; {osc.overflowed} dropped by the kernel (burst too large)" if osc.overflowed else ""
            self.osc.setText(f"listening on {h}:{port} — {osc.received} received, {b.commands.coalesced} "
                             f"coalesced{extra}")
            keeper = getattr(b, "midi_keeper", None)
            try:
                conns = f"\n{keeper.describe()}" if keeper is not None else ""
            except Exception:  # noqa: BLE001 - the JACK server went away: the note still says the ports
                conns = ""
            self.midi.setText(getattr(b, "midi_note", "off") + conns)
        t = self.session.transport
        self.follow.setText("following the DAW's transport" if t.follow else "not following (the song's own tempo)")
        if self.follow_box.isChecked() != t.follow:
            self.follow_box.setChecked(t.follow)
        bpm = f"{t.bpm:.2f} bpm" if t.bpm else "tempo unknown"
        if t.beats is not None:
            bbt = self.session.song.tempo.seconds_to_bbt(self.session.song.tempo.quarters_to_seconds(t.beats))
            pos = f"at {bbt}"
        else:
            pos = "position unknown"
        source = getattr(t, "source", "")
        self.clock.setText(f"{bpm}, {pos}, {'playing' if t.playing else 'stopped'}" +
                           (f" — from {source}" if source else ""))
        daw = self.session.song.daw
        if not self.daw_host.hasFocus():
            self.daw_host.setText(daw.host)
        if not self.daw_port.hasFocus():
            self.daw_port.setValue(daw.port)
        syncs = getattr(b, "daw_syncs", None)
        if syncs:
            last = syncs[-1]
            self.synced.setText(f"{'✔' if last['ok'] else '✖'} {last['direction']} ({_ago(last['when'])}): "
                                f"{last['text']}")
        self.adapter.setText(f"{daw.adapter}" + (f" — {daw.session}" if daw.session else "") +
                             (f"\n{self.test_result}" if self.test_result else ""))
        names = [("Whole song", None)] + [(sec.name, sec.name) for sec in self.session.song.sections]
        if [self.land_what.itemText(i) for i in range(self.land_what.count())] != [n for n, _ in names]:
            current = self.land_what.currentText()
            self.land_what.clear()
            for name, data in names:
                self.land_what.addItem(name, data)
            if current:
                self.land_what.setCurrentText(current)
        if b is not None and b.landings:
            last = b.landings[-1]
            what = f"{last['take']} {last['section']}".strip()
            self.landed.setText(f"{'✔' if last['ok'] else '✖'} {what} ({_ago(last['when'])}) — {last['adapter']}: "
                                f"{last['detail']}")
        refusals = getattr(b, "refusals", None)
        if refusals:
            last = refusals[-1]
            self.refused.setText(f"✖ {last['address']} ({_ago(last['when'])}): {last['text']}")
        peers = b.peers_seen() if b is not None else []
        self.peers.setRowCount(len(peers))
        for i, peer in enumerate(peers):
            for j, text in enumerate((peer.address, peer.last, _ago(peer.when), str(peer.count))):
                self.peers.setItem(i, j, QTableWidgetItem(text))
