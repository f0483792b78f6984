"""MIDI ports through mido + python-rtmidi with the API chosen explicitly (JACK or ALSA): the ALSA sequencer does
not exist everywhere (containers, some servers), and rtmidi's implicit default fails there with an opaque error."""

from __future__ import annotations

from typing import Any

from engine.errors import SongBridgeError

APIS = {"jack": "UNIX_JACK", "alsa": "LINUX_ALSA", "coremidi": "MACOSX_CORE", "winmm": "WINDOWS_MM"}


class MidiUnavailable(SongBridgeError):
    """No MIDI API works here; the message says what was tried."""


def backend(api: str) -> Any:
    import mido

    name = APIS.get(api)
    if name is None:
        raise MidiUnavailable(f"unknown MIDI API {api!r}; choose one of {', '.join(APIS)}")
    return mido.Backend(f"mido.backends.rtmidi/{name}", load=True)


_RT_APIS = {"jack": "API_UNIX_JACK", "alsa": "API_LINUX_ALSA", "coremidi": "API_MACOSX_CORE",
            "winmm": "API_WINDOWS_MM"}


class TimedInput:
    """A virtual input port through python-rtmidi directly, so each message keeps the driver's timestamp (mido's
    rtmidi backend drops the delta times, and clock following needs them: JACK delivers clocks in bursts)."""

    def __init__(self, api: str, client: str, callback: Any):
        import mido
        import rtmidi

        self._mido = mido
        self._rt = rtmidi.MidiIn(rtapi=getattr(rtmidi, _RT_APIS[api]), name=client)
        self._rt.ignore_types(sysex=False, timing=False, active_sense=True)
        self._rt.open_virtual_port("in")
        self._clock = 0.0
        self._callback = callback
        self._rt.set_callback(self._on_message)

    def _on_message(self, event: tuple[list[int], float], _data: Any = None) -> None:
        data, delta = event
        self._clock += delta
        try:
            msg = self._mido.Message.from_bytes(data)
        except ValueError:
            return  # malformed MIDI is ignored
        self._callback(msg.copy(time=self._clock))

    def close(self) -> None:
        self._rt.cancel_callback()
        self._rt.close_port()
        if hasattr(self._rt, "delete"):  # the JACK client goes now, so the next ports get the same names again
            self._rt.delete()
        del self._rt


def open_ports(api: str = "auto", client: str = "SongBridge", callback: Any = None) -> tuple[Any, Any, str]:
    """Virtual ports ``client:in`` and ``client-out:out`` (JACK gives every client its own unique name, so the
    output, a second client, is named for what it is rather than numbered by JACK). ``auto`` tries JACK, then
    ALSA."""
    tried = []
    for candidate in (["jack", "alsa"] if api == "auto" else [api]):
        if candidate not in APIS:
            raise MidiUnavailable(f"unknown MIDI API {candidate!r}; choose one of {', '.join(APIS)}")
        try:
            inp = TimedInput(candidate, client, callback or (lambda m: None))
            out = backend(candidate).open_output("out", virtual=True, client_name=f"{client}-out")
            return inp, out, candidate
        except Exception as exc:  # noqa: BLE001 - rtmidi raises SystemError/OSError/RuntimeError
            tried.append(f"{candidate}: {str(exc).splitlines()[0][:120]}")
    raise MidiUnavailable("no MIDI API works here (" + "; ".join(tried) + "); start a JACK server, or on Linux make "
                          "the ALSA sequencer available (/dev/snd/seq)")
