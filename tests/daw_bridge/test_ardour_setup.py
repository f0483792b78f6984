"""``songbridge daw setup ardour`` keeps what the producer had bound in Ardour, and a take's audio gets one name in
the session however often it is rendered."""

from __future__ import annotations

import base64
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from daw_bridge.adapters import ardour_live as live
from daw_bridge.adapters.ardour_closed import content_name

# A slot as Ardour writes it: a Lua table whose factory is bytecode (bytes that are not UTF-8).
THEIR_SLOT = (b'scripts = {} scripts[1] = {} scripts[1]["n"] = "My Macro" scripts[1]["s"] = "ardour {}" '
              b'scripts[1]["f"] = "\x1bLua\x53\x00\x19\x93\r\n\x1a\n\x04\x08\x04\x08\xff\xfe" scripts[1]["a"] = {} ')


def ui_scripts(cfg: Path, state: bytes) -> None:
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "ui_scripts").write_text('<?xml version="1.0" encoding="UTF-8"?>\n<UIScripts>\n  <ActionScript '
                                    f'lua="Lua 5.3">{base64.b64encode(state).decode()}</ActionScript>\n'
                                    '  <ActionHooks/>\n</UIScripts>\n')


def state_of(cfg: Path) -> bytes:
    node = ET.parse(cfg / "ui_scripts").getroot().find("ActionScript")
    return base64.b64decode(node.text)


def test_setup_binds_a_free_slot_and_keeps_the_producers_slots_byte_for_byte(tmp_path: Path) -> None:
    cfg = tmp_path / "ardour7"
    ui_scripts(cfg, THEIR_SLOT)
    result = live.install(cfg)
    assert result.registered and result.slot == 2
    state = state_of(cfg)
    assert state.startswith(THEIR_SLOT)  # their bytecode untouched
    assert live.bound_slot(cfg) == 2
    assert (cfg / "scripts" / "songbridge_land.lua").read_text() == live.SCRIPT.read_text()
    assert (cfg / "ui_scripts.sb-bak").exists()
    # running it again keeps the slot instead of taking another
    assert live.install(cfg).slot == 2
    assert live.bound_slot(cfg) == 2


def test_setup_without_an_ardour_configuration_leaves_ardours_seeded_slots_free(tmp_path: Path) -> None:
    result = live.install(tmp_path / "fresh")
    assert result.slot == live.PRESEEDED + 1


def test_setup_refuses_a_slot_ardour_does_not_have(tmp_path: Path) -> None:
    from daw_bridge.adapters.ardour import ArdourError

    with pytest.raises(ArdourError, match="slots 1 to 32"):
        live.install(tmp_path / "cfg", slot=40)


@pytest.mark.integration
def test_ardours_lua_loads_the_slots_setup_wrote(tmp_path: Path) -> None:
    """Ardour's own Lua (ardour7-lua) restores the table the way Ardour does and gets our action function."""
    if shutil.which("ardour7-lua") is None:
        pytest.fail("this test needs ardour7-lua (apt-get install ardour; .ci/run does)")
    cfg = tmp_path / "ardour7"
    live.install(cfg)
    (tmp_path / "state.lua").write_bytes(state_of(cfg))
    check = tmp_path / "check.lua"
    check.write_text(f'local fh = io.open("{tmp_path / "state.lua"}", "rb"); local st = fh:read("a"); fh:close()\n'
                     "load(st)()\n"
                     "for i, s in pairs(scripts) do\n"
                     "  local f = assert(load(s['f']))\n"
                     "  local action = load(string.dump(f, true), nil, nil, _ENV)(s['a'])\n"
                     "  print('SLOT', i, s['n'], type(action))\n"
                     "end\n")
    out = subprocess.run(["ardour7-lua", str(check)], capture_output=True, text=True, timeout=120).stdout
    assert f"SLOT {live.PRESEEDED + 1} {live.ACTION_NAME} function" in out, out  # its print joins with spaces


def test_a_take_rendered_again_keeps_its_name_and_other_audio_gets_another(tmp_path: Path) -> None:
    audio = (0.3 * np.sin(np.arange(44100) / 20.0))[:, None].repeat(2, 1).astype(np.float32)
    sf.write(str(tmp_path / "a.wav"), audio, 44100, subtype="FLOAT")
    sf.write(str(tmp_path / "b.wav"), audio, 44100, subtype="FLOAT", format="RF64")  # other header, same audio
    changed = audio.copy()
    changed[1000, 0] += 0.01
    sf.write(str(tmp_path / "c.wav"), changed, 44100, subtype="FLOAT")
    a, b, c = (content_name(tmp_path / f"{n}.wav", "sb-chorus-take-001-vocal") for n in "abc")
    assert (tmp_path / "a.wav").read_bytes() != (tmp_path / "b.wav").read_bytes()
    assert a == b != c
    assert a.startswith("sb-chorus-take-001-vocal-") and a.endswith(".wav")
