from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.audio.fx import build_board, load_board, process_chunked
from engine.errors import PresetError
from presets.effect_chains import EffectPresetError, load_chain, parse_chain, shipped_chains

SR = 44100


def noise(seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    x = np.random.default_rng(0).standard_normal((2, len(t))) * 0.05 + 0.3 * np.sin(2 * np.pi * 220 * t)
    return x.astype(np.float32)


def test_shipped_presets_load_and_do_something() -> None:
    names = set(shipped_chains())
    assert {"vocal-clean", "vocal-radio", "vocal-space", "drums-punch", "bass-warm", "keys-wide", "master-gentle",
            "master-loud"} <= names
    x = noise()
    for name in names:
        out = load_board(name)(x, SR, reset=True)
        assert out.shape == x.shape and np.isfinite(out).all()
        assert np.abs(out - x).max() > 1e-3, f"{name} changes nothing"


@pytest.mark.parametrize("name", sorted(shipped_chains()))
def test_chunked_equals_one_shot(name: str) -> None:
    x = noise(1.5)
    board = load_board(name)
    one = board(x, SR, reset=True)
    for chunk in (512, 4096, 10_000):
        assert np.abs(process_chunked(board, x, SR, chunk=chunk) - one).max() < 1e-6


def write(tmp: Path, text: str) -> Path:
    p = tmp / "chain.toml"
    p.write_text("schema_version = 1\nname = 'x'\n" + text)
    return p


@pytest.mark.parametrize("text,expected", [
    ("[[plugin]]\ntype = 'Fuzzinator'\n", r"plugin\[0\]\.type: unknown plugin 'Fuzzinator'"),
    ("[[plugin]]\ntype = 'Compressor'\nratioo = 2.0\n", r"plugin\[0\]\.ratioo: Compressor has no parameter"),
    ("[[plugin]]\ntype = 'Gain'\n[[plugin]]\ntype = 'Compressor'\nratio = 'high'\n",
     r"plugin\[1\]\.ratio: expected float, got 'high'"),
    ("[[plugin]]\ntype = 'Compressor'\nratio = 0.5\n", r"plugin\[0\]\.ratio: Compressor ratio must be"),
    ("[[plugin]]\ntype = 'LowpassFilter'\ncutoff_frequency_hz = -5.0\n", r"cutoff_frequency_hz: must be in"),
    ("[[plugin]]\ntype = 'Reverb'\nroom_size = 3.0\n", r"room_size: must be in 0\.\.1"),
    ("[[plugin]]\ntype = 'external'\npath = 'missing.vst3'\n", r"plugin\[0\]\.path: plugin not found at"),
    ("[[plugin]]\ntype = 'external'\n", r"plugin\[0\]\.path: an external plugin needs the path"),
    ("[[plugin]]\ntype = 'external'\npath = 'x.vst3'\ngain = 1\n", r"plugin\[0\]\.gain: unknown key"),
])
def test_bad_presets_name_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises((PresetError, EffectPresetError), match=expected) as info:
        build_board(load_chain(p))
    assert str(p) in str(info.value)


def test_not_a_plugin_file_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.audio import consent

    monkeypatch.setenv("SONGBRIDGE_CONFIG", str(tmp_path / "config"))
    fake = tmp_path / "fake.vst3"
    fake.write_bytes(b"not a plugin")
    p = write(tmp_path, f"[[plugin]]\ntype = 'external'\npath = '{fake}'\n")
    with pytest.raises(PresetError, match=r"plugin\[0\]: plugin .*fake\.vst3 is not allowed on this machine"):
        build_board(load_chain(p))  # a plugin is native code: never loaded before the producer allows it
    consent.allow(fake)
    with pytest.raises(PresetError, match=r"plugin\[0\]\.path: cannot load .*fake\.vst3"):
        build_board(load_chain(p))


def test_schema_and_toml_errors(tmp_path: Path) -> None:
    with pytest.raises(EffectPresetError, match="schema_version 9 is newer"):
        parse_chain({"schema_version": 9}, "x.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("schema_version = [")
    with pytest.raises(EffectPresetError, match=r"bad\.toml: invalid TOML"):
        load_chain(bad)
    with pytest.raises(PresetError, match="no effect preset 'nope'"):
        load_board("nope")


def test_bypass_and_overrides() -> None:
    spec = load_chain(shipped_chains()["vocal-clean"])
    assert len(build_board(spec)) == 4
    assert len(build_board(spec, overrides={"1.bypass": True})) == 3
    board = build_board(spec, overrides={"3.gain_db": -6.0})
    assert board[3].gain_db == -6.0
    with pytest.raises(PresetError, match="override '9.gain_db'"):
        build_board(spec, overrides={"9.gain_db": 1.0})
