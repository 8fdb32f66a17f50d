from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from multigen.domain import DomainError
from multigen_domains.audio import data as D
from multigen_domains.audio.io import fit_length, load_clip, normalise, read_audio, resample
from tests.domains.audio.conftest import tone


def test_resample_keeps_frequency_and_duration():
    x = torch.from_numpy(tone(440.0, 44100, 44100))
    y = resample(x, 44100, 16000)
    assert y.shape[-1] == 16000
    spec = torch.fft.rfft(y[2000:-2000].double()).abs()
    freq = spec.argmax().item() * 16000 / (12000)
    assert abs(freq - 440.0) < 2.0


def test_fit_length_and_normalise():
    x = torch.arange(10.0)
    assert fit_length(x, 4).tolist() == [0, 1, 2, 3]
    assert fit_length(x, 4, "center").tolist() == [3, 4, 5, 6]
    assert fit_length(x, 12).tolist()[-2:] == [0, 0]
    y = normalise(torch.tensor([[0.1, -0.2, 0.05]]), "peak", 0.5)
    assert y.abs().max().item() == pytest.approx(0.5)
    z = normalise(torch.tensor([[3.0, -3.0]]), "rms", 1.0)
    assert z.pow(2).mean().sqrt().item() == pytest.approx(1.0)
    assert normalise(torch.zeros(1, 4), "peak").abs().sum() == 0  # silence stays silence


def test_stereo_and_rate_handled_or_rejected(tmp_path: Path):
    st = np.stack([tone(300, 22050, 2205), tone(300, 22050, 2205)], axis=1)
    sf.write(tmp_path / "st.flac", st, 22050)
    clip = load_clip(tmp_path / "st.flac", 16000, 1600)
    assert clip.shape == (1600,)
    with pytest.raises(DomainError, match="st.flac.*2 channels"):
        load_clip(tmp_path / "st.flac", 22050, None, mixdown=False)
    with pytest.raises(DomainError, match="st.flac.*22050 Hz, expected 16000"):
        load_clip(tmp_path / "st.flac", 16000, None, resample_rate=False)


@pytest.mark.parametrize("kind", ["corrupt", "empty", "nan", "unsupported"])
def test_bad_files_named_and_skipped(wav_folder: Path, kind: str):
    bad = wav_folder / "low" / f"bad_{kind}.wav"
    if kind == "corrupt":
        bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    elif kind == "empty":
        sf.write(bad, np.zeros(0, np.float32), 16000)
    elif kind == "nan":
        x = tone(220, 16000, 4000)
        x[100] = np.nan
        sf.write(bad, x, 16000, subtype="FLOAT")
    else:
        bad = bad.with_suffix(".ogg")
        bad.write_text("this is not audio")
    with pytest.raises(DomainError, match=bad.name):
        read_audio(bad)
    ds = D.folder(wav_folder, "all", sample_rate=16000, length=4000)
    assert len(ds) == 6
    assert [p for p, _ in ds.skipped] == [str(bad)]
    with pytest.raises(DomainError, match=bad.name):
        D.folder(wav_folder, sample_rate=16000, length=4000, strict=True)
