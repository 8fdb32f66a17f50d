from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from multigen.domain import Batch, DomainError
from multigen_domains.audio import get_domain
from multigen_domains.audio.samples import AudioSamples


def test_decode_export_load_roundtrip(tmp_path: Path):
    dom = get_domain()
    info = {"shape": [1, 800], "sample_rate": 8000, "class_names": ["a", "b"], "num_classes": 2}
    x = torch.rand(3, 1, 800) * 2.4 - 1.2  # out of range values get clipped
    s = dom.decode(Batch(x, None, torch.tensor([0, 1, 1])), info)
    assert s.waves.shape == (3, 800) and s.waves.abs().max() <= 1
    files = dom.export(s, tmp_path)
    names = sorted(p.name for p in files)
    assert names[:3] == ["labels.json", "sample_00000.wav", "sample_00001.wav"]
    assert (tmp_path / "spectrograms.png").stat().st_size > 1000
    info_wav = sf.info(tmp_path / "sample_00000.wav")
    assert info_wav.subtype == "PCM_16" and info_wav.samplerate == 8000
    back = dom.load_samples(tmp_path)
    assert back.sample_rate == 8000 and back.labels.tolist() == [0, 1, 1]
    assert back.class_names == ["a", "b"]
    torch.testing.assert_close(back.waves, s.waves, atol=1 / 32767 + 1e-6, rtol=0)


def test_load_samples_skips_mismatched_rate(tmp_path: Path):
    for i in range(3):
        sf.write(tmp_path / f"s{i}.wav", np.zeros(100, np.float32) + 0.1, 16000)
    sf.write(tmp_path / "odd.wav", np.zeros(50, np.float32), 22050)
    s = get_domain().load_samples(tmp_path)
    assert len(s) == 3 and s.skipped[0][0].endswith("odd.wav")
    with pytest.raises(DomainError, match="odd.wav.*22050"):
        get_domain().load_samples(tmp_path, strict=True)


def test_reference_spec(tmp_path: Path):
    dom = get_domain()
    ref = dom.reference("embedded:test", n=5)
    assert isinstance(ref, AudioSamples) and len(ref) == 5 and ref.labels is not None
    with pytest.raises(DomainError, match="needs files"):
        dom.reference("sc09")
    with pytest.raises(DomainError, match="neither an existing path"):
        dom.reference("nothing-here")


def test_head_subsets_across_classes(wav_folder: Path):
    s = get_domain().load_samples(wav_folder)  # files sorted: all "high" first, then "low"
    assert s.labels.tolist() == [0, 0, 0, 1, 1, 1] and s.class_names == ["high", "low"]
    sub = s.head(4)
    assert len(sub) == 4 and set(sub.labels.tolist()) == {0, 1}
    assert sub.names == sorted(sub.names)  # file order kept


def test_cli_evaluate_names_skipped_files(tmp_path: Path, capsys):
    import json

    from multigen.cli import main

    gen, ref = tmp_path / "gen", tmp_path / "ref"
    rng = np.random.default_rng(0)
    for folder in (gen, ref):
        folder.mkdir()
        for i in range(4):
            sf.write(folder / f"s{i}.wav", rng.normal(0, 0.1, 2048).astype(np.float32), 8000)
    (gen / "broken.wav").write_bytes(b"RIFF not really a wav")
    sf.write(gen / "empty.wav", np.zeros(0, np.float32), 8000)
    out = tmp_path / "scores.json"
    argv = ["evaluate", "--domain", "audio", "--samples", str(gen), "--reference", str(ref),
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "skipped 2 file(s)" in text and "broken.wav" in text and "empty.wav" in text
    report = json.loads(out.read_text())
    assert report["skipped_files"] == 2 and "fd_mel" in report
    assert sorted(Path(s["file"]).name for s in report["skipped"]) == ["broken.wav", "empty.wav"]
    assert all(s["reason"] and s["set"] == "samples" for s in report["skipped"])
    assert main([*argv, "--strict"]) == 2
    assert "broken.wav" in capsys.readouterr().err
