import math

import numpy as np
import pytest
import torch

from multigen.domain import DomainError
from multigen_domains.audio import get_domain
from multigen_domains.audio.metrics.classifier import AudioClassifier, classifier_scores
from multigen_domains.audio.metrics.mel import fd_mel
from multigen_domains.audio.metrics.spectral import lsd, mr_stft
from multigen_domains.audio.samples import AudioSamples
from tests.domains.audio.conftest import tone


def noise(n=3, t=8000, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal((n, t)) * 0.3)


def test_identical_sets_give_zero():
    x = noise()
    assert mr_stft(x, x) == 0.0
    assert lsd(x, x) == 0.0
    assert abs(fd_mel(x.float(), x.float(), 16000)) < 1e-8


def test_scaled_noise_known_answer():
    # x = 2y: every STFT magnitude doubles, so spectral convergence = ||2Y - Y|| / ||Y|| = 1
    # and the mean |ln 2Y - ln Y| = ln 2 at each of the three resolutions.
    y = noise()
    assert mr_stft(2 * y, y) == pytest.approx(1 + math.log(2), abs=1e-9)
    # power ratio 4 in every bin: LSD = |log10 4|
    assert lsd(2 * y, y) == pytest.approx(math.log10(4), abs=1e-9)


def test_tone_shifted_by_half_a_period_has_zero_spectral_distance():
    # 800 Hz at 16 kHz has a 20-sample period; shifting by 10 samples gives exactly -x.
    sr = 16000
    x = torch.from_numpy(tone(800, sr, sr + 10).astype(np.float64))
    shifted = x[10:]
    base = x[:-10]
    torch.testing.assert_close(shifted, -base, atol=1e-6, rtol=0)
    assert (shifted - base).abs().mean() > 0.3  # the waveforms differ a lot...
    assert mr_stft(shifted, base) < 1e-5  # ...their magnitude spectra do not
    assert lsd(shifted, base) < 1e-5


def test_tone_vs_octave_is_far():
    sr = 16000
    a = torch.from_numpy(tone(440, sr, sr)).double()
    b = torch.from_numpy(tone(880, sr, sr)).double()
    assert mr_stft(a, b) > 1.0 and lsd(a, b) > 1.0


def test_shape_and_rate_mismatch_caught():
    with pytest.raises(DomainError, match="shapes differ"):
        mr_stft(noise(t=8000), noise(t=7000))
    dom = get_domain()
    a = AudioSamples(noise().float(), 16000)
    b = AudioSamples(noise(seed=1).float(), 8000)
    with pytest.raises(DomainError, match="sample rates differ"):
        dom.evaluate(a, b)
    c = AudioSamples(noise(t=6000).float(), 16000)
    with pytest.raises(DomainError, match="clip lengths differ"):
        dom.evaluate(c, a, classifier=False)
    out = dom.evaluate(c, a, classifier=False, fit_length=True)
    assert out["fd_mel"] > 0
    with pytest.raises(DomainError, match="unknown audio eval option"):
        dom.evaluate(a, a, bogus=1)


def test_evaluate_pairs_by_name():
    dom = get_domain()
    y = noise(4).float()
    ref = AudioSamples(y, 16000, names=["a", "b", "c", "d"], from_files=True)
    gen = AudioSamples(2 * y[[1, 0, 3, 2]], 16000, names=["b", "a", "d", "c"], from_files=True)
    out = dom.evaluate(gen, ref, classifier=False)
    assert out["mr_stft"] == pytest.approx(1 + math.log(2), abs=1e-5)
    unpaired = dom.evaluate(AudioSamples(y, 16000), ref, classifier=False)
    assert "mr_stft" not in unpaired  # generated vs reference sets: no pairing
    decoded = AudioSamples(y, 16000)  # default names are not file names: never paired
    assert "mr_stft" not in dom.evaluate(decoded, AudioSamples(y, 16000), classifier=False)


def test_classifier_scores_on_identical_sets():
    torch.manual_seed(0)
    m = AudioClassifier(8000, 3, width=4).eval()
    x = noise(12, 2048).float()
    labels = torch.arange(12) % 3
    s = classifier_scores(m, x, x, labels, gen_labels=labels, ndb_k=3)
    assert abs(s["fd_cls"]) < 1e-6 and s["ndb"] == 0
    assert 1 <= s["is"] <= 3 and s["mis"] >= 1
    assert s["accuracy"] == s["cls_acc_reference"]


@pytest.mark.slow
def test_trained_classifier_separates_embedded_classes(tmp_path, monkeypatch):
    monkeypatch.setenv("MULTIGEN_CACHE", str(tmp_path))
    dom = get_domain()
    ref = dom.reference("embedded:train").head(256)
    test = dom.reference("embedded:test")
    out = dom.evaluate(test, ref, classifier_steps=300)
    assert out["accuracy"] > 0.8  # real test clips of known class are recognised
    assert out["is"] > 4  # 8 balanced, confidently classified classes
