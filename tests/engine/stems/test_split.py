"""Stem separation: the production loader's allow-list, parity with demucs' own apply_model on the tiny HTDemucs,
and a split job on a take (progress, cancel between segments, files, record), from the command line too."""

from __future__ import annotations

import json
import pickle
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.service import Cancelled, EngineService, Finished, Progress, SplitJob
from engine.stems.files import SeparationModelError
from engine.stems.models import from_models, load
from engine.stems.split import separate
from engine.stems.tiny import create_tiny_separator
from tests.conftest import run_cli
from tests.engine.session.test_session import make_project
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    create_tiny_separator(root, seed=1)
    return root


@pytest.mark.slow
def test_output_equals_demucs_apply_model_for_the_same_weights(models: Path) -> None:
    from demucs.apply import apply_model

    sep = from_models(models)
    x = (np.random.default_rng(3).standard_normal((44100 * 5, 2)) * 0.2).astype(np.float32)
    ours = separate(sep, x, 44100)
    wav = torch.from_numpy(x.T.copy())
    ref = wav.mean(0)
    with torch.inference_mode():
        want = apply_model(sep.model, ((wav - ref.mean()) / ref.std())[None], shifts=0, split=True, overlap=0.25)[0]
    want = want * ref.std() + ref.mean()
    for i, name in enumerate(sep.sources):
        got = ours["vocal" if name == "vocals" else name]
        assert got.shape == (len(x), 2)
        assert np.array_equal(got, want[i].numpy().T)
    two = separate(sep, x, 44100, two=True)
    assert set(two) == {"vocal", "instrumental"}
    assert np.allclose(two["instrumental"], ours["drums"] + ours["bass"] + ours["other"], atol=1e-6)


def test_a_file_naming_another_class_is_refused_before_anything_is_imported(tmp_path: Path) -> None:
    create_tiny_separator(tmp_path, klass="os.system")
    with pytest.raises(SeparationModelError, match="names the model class 'os.system'"):
        from_models(tmp_path)
    th = tmp_path / "evil.th"

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    th.write_bytes(pickle.dumps({"klass": Evil(), "args": [], "kwargs": {}, "state": {}}))
    with pytest.raises(SeparationModelError, match="evil.th: refused or unreadable"):
        load(th)
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 40)
    with pytest.raises(SeparationModelError, match="not a readable safetensors file"):
        load(tmp_path / "junk.safetensors")


def test_split_job_on_a_take_reports_progress_cancels_and_records(models: Path, tmp_path: Path) -> None:
    project = make_project(tmp_path)
    take = project.song.takes[-1]
    service = EngineService("thread").start()
    try:
        job = service.submit(SplitJob(project.folder, take, models))
        events = list(service.follow(job, timeout=120))
        done = events[-1]
        assert isinstance(done, Finished), events[-1]
        steps = [e for e in events if isinstance(e, Progress)]
        assert len(steps) >= 2 and steps[-1].step == steps[-1].total  # one step a segment
        new = done.takes[0]
        assert new.stems == ("drums", "bass", "other", "vocal") and new.id == take.id
        folder = project.folder / "takes" / take.id
        assert all((folder / "stems" / f"{s}.wav").is_file() for s in new.stems)
        assert (folder / "mix.wav").is_file() and (folder / "stems.before-split" / "keys.wav").is_file()
        record = json.loads((folder / "record.json").read_text())
        assert record["stems"] == list(new.stems)
        assert record["analysis"]["separation"]["sha256"] == from_models(models).sha256
        # cancel between segments: a long take, cancelled after its first segment
        import soundfile as sf

        sf.write(folder / "mix.wav", np.zeros((44100 * 60, 2), np.float32), 44100)
        job = service.submit(SplitJob(project.folder, take, models))
        seen = []
        for ev in service.follow(job, timeout=120):
            seen.append(ev)
            if isinstance(ev, Progress):
                t0 = time.monotonic()
                service.cancel(job)
        assert isinstance(seen[-1], Cancelled) and time.monotonic() - t0 < 5
        assert sum(isinstance(e, Progress) for e in seen) < 10
    finally:
        service.close()


@pytest.mark.slow
def test_split_command_for_a_file_and_a_take(models: Path, tmp_path: Path) -> None:
    import soundfile as sf

    clip = tmp_path / "loop.wav"
    sf.write(clip, (np.random.default_rng(0).standard_normal((44100 * 3, 2)) * 0.1).astype(np.float32), 44100)
    r = run_cli("split", str(clip), "-o", str(tmp_path / "stems"), "--models", str(models))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "stems").glob("*.wav")) == ["bass.wav", "drums.wav", "other.wav",
                                                                         "vocal.wav"]
    project = make_project(tmp_path / "p")
    r = run_cli("split", str(project.folder), "--two", "--models", str(models))
    assert r.returncode == 0, r.stderr
    song = json.loads((project.folder / "song.json").read_text())
    assert song["takes"][-1]["stems"] == ["vocal", "instrumental"]
    r = run_cli("split", str(project.folder), "--models", str(tmp_path / "none"))
    assert r.returncode == 2 and "no stem-separation model" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_a_neural_take_is_split_as_it_arrives(tmp_path: Path, monkeypatch) -> None:
    from engine.session import JobEnded, Session
    from tests.conftest import tiny_neural_setup

    models = tiny_neural_setup(tmp_path / "models", monkeypatch, "Lofi")
    create_tiny_separator(models)
    project = make_project(tmp_path, take=False)
    engine = EngineService("thread").start()
    session = Session.open(project.folder, engine, "test")
    ended: list[JobEnded] = []
    session.subscribe(lambda ev: ended.append(ev) if isinstance(ev, JobEnded) else None)
    try:
        session.edit(session.song.replace(style=session.song.style.__class__(preset="Lofi")), "style")
        session.generate("diffrhythm", 1, 5, params={"steps": 4})
        wait_until(lambda: any(e.purpose.kind == "split" for e in ended), 120, "the automatic split")
        kinds = [(e.purpose.kind, e.state) for e in ended]
        assert kinds == [("generate", "finished"), ("split", "finished")], [e.error for e in ended]
        take = session.song.takes[-1]
        assert take.stems == ("drums", "bass", "other", "vocal") and take.analysis["separation"]["model"]
    finally:
        session.close()
        engine.close()
