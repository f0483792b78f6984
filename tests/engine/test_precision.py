"""The CPU precision: chosen by measured rates, cached per machine, overridden by flag, environment and setting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import precision
from engine.errors import SongBridgeError
from engine.precision import Choice, choose, cpu_precision, measured_rates, read_setting


@pytest.mark.parametrize(("rates", "want"), [
    ({"fp32": 290, "bf16": 640, "fp16": 0.6}, "bf16"),  # this VM: AVX-512 BF16, no FP16 units
    ({"fp32": 290, "bf16": 330, "fp16": 0.6}, "fp32"),  # bf16 by emulation: not worth its rounding
    ({"fp32": 290, "bf16": 640, "fp16": 650}, "fp16"),  # both fast: the smaller rounding error
    ({"fp32": 290, "bf16": 640, "fp16": 600}, "bf16"),
    ({"fp32": 100, "bf16": 0.5, "fp16": 400}, "fp16"),  # an Arm core with FP16 but no BF16
    ({"fp32": 0.0, "bf16": 640}, "fp32"),  # no float32 figure: nothing to compare with
])
def test_choice_follows_the_measured_rates(rates: dict[str, float], want: str) -> None:
    assert choose(rates) == want


def test_override_order_flag_environment_setting_measurement(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, "measured_rates", lambda **_: {"fp32": 100.0, "bf16": 400.0, "fp16": 1.0})
    monkeypatch.delenv(precision.ENV, raising=False)
    setting = tmp_path / "engine.toml"
    assert cpu_precision(settings_file=setting) == Choice("bf16", "measured on this CPU",
                                                          {"fp32": 100.0, "bf16": 400.0, "fp16": 1.0})
    setting.write_text('cpu_precision = "fp16"\n')
    assert cpu_precision(settings_file=setting).name == "fp16"
    monkeypatch.setenv(precision.ENV, "float32")
    assert (cpu_precision(settings_file=setting).name, cpu_precision(settings_file=setting).source) == \
        ("fp32", precision.ENV)
    assert cpu_precision("bf16", settings_file=setting).source == "--precision"
    monkeypatch.setenv(precision.ENV, "auto")  # "auto" anywhere means: go on down the list
    assert cpu_precision("auto", settings_file=setting).name == "fp16"
    monkeypatch.setenv(precision.ENV, "double")
    with pytest.raises(SongBridgeError, match="SONGBRIDGE_PRECISION: precision must be"):
        cpu_precision(settings_file=setting)


def test_setting_file_is_read_strictly(tmp_path: Path) -> None:
    f = tmp_path / "engine.toml"
    assert read_setting(f) is None
    f.write_text('cpu_precison = "bf16"\n')
    with pytest.raises(SongBridgeError, match=r"engine.toml: unknown key 'cpu_precison'"):
        read_setting(f)
    f.write_text('cpu_precision = "int8"\n')
    with pytest.raises(SongBridgeError, match="cpu_precision: precision must be"):
        read_setting(f)
    f.write_text("cpu_precision = \n")
    with pytest.raises(SongBridgeError, match="not a readable settings file"):
        read_setting(f)


def test_measurement_is_cached_per_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def fake_measure() -> dict[str, float]:
        calls.append(1)
        return {"fp32": 100.0, "bf16": 300.0 + len(calls), "fp16": 1.0}

    monkeypatch.setattr(precision, "measure", fake_measure)
    cache = tmp_path / "cpu-precision.json"
    first = measured_rates(path=cache)
    assert measured_rates(path=cache) == first and len(calls) == 1
    key = next(iter(json.loads(cache.read_text())))
    import torch

    assert torch.__version__ in key and f"{torch.get_num_threads()} threads" in key
    assert measured_rates(path=cache, refresh=True)["bf16"] == 302.0 and len(calls) == 2
    cache.write_text("{not json")  # a damaged cache is measured again, not an error
    assert measured_rates(path=cache)["bf16"] == 303.0


def test_the_real_probe_is_quick_and_names_every_format() -> None:
    import time

    t0 = time.perf_counter()
    rates = precision.measure(size=256)
    assert set(rates) == {"fp32", "bf16", "fp16"} and all(v > 0 for v in rates.values())
    assert time.perf_counter() - t0 < 30  # a format without fast kernels must not stall the probe


def test_a_small_model_stays_float32_unmeasured_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_probe(**_: object) -> dict[str, float]:
        raise AssertionError("a small model must not run the precision probe")

    monkeypatch.setattr(precision, "measured_rates", no_probe)
    monkeypatch.delenv(precision.ENV, raising=False)
    setting = tmp_path / "engine.toml"
    small = cpu_precision(settings_file=setting, width=64)
    assert small.name == "fp32" and "small model" in small.source
    assert cpu_precision("bf16", settings_file=setting, width=64).name == "bf16"  # asked for: honoured
    monkeypatch.setattr(precision, "measured_rates", lambda **_: {"fp32": 100.0, "bf16": 400.0, "fp16": 1.0})
    assert cpu_precision(settings_file=setting, width=precision.SMALL_WIDTH).name == "bf16"


def test_a_small_model_runs_on_one_thread_and_the_count_comes_back() -> None:
    import torch

    before = torch.get_num_threads()
    with precision.threads_for(64):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), precision.threads_for(64):
        raise RuntimeError("a failed job")
    assert torch.get_num_threads() == before
    with precision.threads_for(2048):
        assert torch.get_num_threads() == before
