import shutil
from pathlib import Path

import pytest

from multigen.domain import DomainError
from multigen_domains.audio import data as D
from multigen_domains.audio import spoken_digits as SD


def test_missing_espeak_says_what_to_install(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(SD.shutil, "which", lambda name: None)
    with pytest.raises(DomainError, match="espeak-ng.*apt-get install espeak-ng"):
        SD.prepare(tmp_path)


def test_diffwave_fast_schedule_sigmas():
    from multigen_domains.audio.schedules import diffwave_fast_sigmas

    s = diffwave_fast_sigmas()
    assert len(s) == 7 and s[-1] == 0 and bool((s[:-1] > s[1:]).all())
    # first (smallest non-zero) level: beta = 1e-4 -> sigma = sqrt(1e-4 / 0.9999)
    assert s[-2].item() == pytest.approx((1e-4 / 0.9999) ** 0.5)
    assert s[0].item() == pytest.approx(1.28883, abs=1e-4)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_prepare_small_set_split_by_speaker(tmp_path: Path):
    out = SD.prepare(tmp_path / "sd", max_speakers=10, pitches=(50,), speeds=(160,))
    train = D.spoken_digits(out, "train")
    test = D.spoken_digits(out, "test")
    assert len(train) == 80 and len(test) == 10 and not train.skipped
    assert train.waves.shape[1] == 16000 and train.sample_rate == 16000
    assert sorted(test.labels.tolist()) == list(range(10))
    speakers = lambda ds: {n.rsplit("_p", 1)[0] for n in ds.names}  # noqa: E731
    assert not speakers(train) & speakers(test)
    assert 0.25 < float(train.waves.abs().amax(1).min()) and float(train.waves.abs().max()) <= 0.95
