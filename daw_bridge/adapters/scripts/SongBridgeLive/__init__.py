# SongBridge Remote Script for Ableton Live 12.0.5+ (untested here: Live does not run on Linux).
# Install: copy the folder SongBridgeLive into Live's "MIDI Remote Scripts" folder and pick it as a Control Surface.
# It listens on UDP 127.0.0.1:11302 for
#   /songbridge_live/create_audio_clip  s:path  i:track_index  f:position_beats  s:tag
# and answers to the sender with /songbridge_live/created i:ok s:detail. Live's Python cannot use threads, so the
# socket is polled on Live's update tick (as AbletonOSC does).
import socket
import struct

from _Framework.ControlSurface import ControlSurface  # Live's module


def _pad(b):
    return b + b"\0" * (4 - len(b) % 4)


def _parse(data):
    end = data.index(b"\0")
    address = data[:end].decode()
    pos = (end // 4 + 1) * 4
    end = data.index(b"\0", pos)
    tags = data[pos + 1:end].decode()
    pos = (end // 4 + 1) * 4
    args = []
    for t in tags:
        if t == "i":
            args.append(struct.unpack(">i", data[pos:pos + 4])[0])
            pos += 4
        elif t == "f":
            args.append(struct.unpack(">f", data[pos:pos + 4])[0])
            pos += 4
        elif t == "s":
            end = data.index(b"\0", pos)
            args.append(data[pos:end].decode())
            pos = (end // 4 + 1) * 4
    return address, args


def _message(address, *args):
    tags, body = ",", b""
    for a in args:
        if isinstance(a, int):
            tags, body = tags + "i", body + struct.pack(">i", a)
        else:
            tags, body = tags + "s", body + _pad(str(a).encode())
    return _pad(address.encode()) + _pad(tags.encode()) + body


class SongBridgeLive(ControlSurface):
    def __init__(self, c_instance):
        ControlSurface.__init__(self, c_instance)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 11302))
        self._sock.setblocking(False)
        self.schedule_message(1, self._poll)

    def _poll(self):
        while True:
            try:
                data, sender = self._sock.recvfrom(65535)
            except OSError:
                break
            try:
                address, args = _parse(data)
                if address == "/songbridge_live/create_audio_clip":
                    path, index, beats, tag = args
                    track = self.song().tracks[index]
                    for clip in list(track.arrangement_clips):
                        if tag and clip.name.startswith(tag):
                            track.delete_clip(clip)
                    clip = track.create_audio_clip(path, beats)
                    clip.name = tag
                    reply = _message("/songbridge_live/created", 1, path)
                else:
                    reply = _message("/songbridge_live/created", 0, "unknown address " + address)
            except Exception as exc:  # noqa: BLE001 - report, never crash Live
                reply = _message("/songbridge_live/created", 0, str(exc))
            self._sock.sendto(reply, sender)
        self.schedule_message(1, self._poll)

    def disconnect(self):
        self._sock.close()
        ControlSurface.disconnect(self)


def create_instance(c_instance):
    return SongBridgeLive(c_instance)
