"""Classifier-based audio metrics as in the SC09 papers (WaveGAN, DiffWave, SaShiMi):
a class classifier trained on labelled reference clips gives features (penultimate layer)
and class probabilities, from which ``fd_cls`` (Fréchet distance of features), ``is``,
``mis``, ``am``, ``ndb``/``ndb_k`` (K=50 k-means bins on reference features) and, for
class-conditional samples, ``accuracy`` are computed.

The papers use their own ResNeXt on SC09; we cannot download it, so the classifier is a
small log-mel CNN trained reproducibly (seeded, cached by data fingerprint) with
:func:`multigen.metrics.classifier.fit_classifier`. Numbers are comparable between runs
that share the reference set and settings, not with the published tables.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from multigen.metrics import classifier as C
from multigen.metrics.frechet import frechet_distance_features


class AudioClassifier(nn.Module):
    """Log-mel front end + 4 conv blocks + global pooling; ``features`` is 4·width-d."""

    def __init__(self, sample_rate: int, num_classes: int, width: int = 16, n_mels: int = 48):
        super().__init__()
        import torchaudio.functional as AF

        # ~32 ms windows, 50 % overlap; fixed (non-persistent) buffers, not weights
        self.n_fft = 1 << int(round(np.log2(sample_rate * 0.032)))
        fb = AF.melscale_fbanks(self.n_fft // 2 + 1, 0.0, sample_rate / 2, n_mels, sample_rate)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        self.register_buffer("fb", fb, persistent=False)
        chans = [1, width, 2 * width, 4 * width, 4 * width]
        blocks: list[nn.Module] = [nn.BatchNorm2d(1)]
        for i in range(4):
            blocks += [
                nn.Conv2d(chans[i], chans[i + 1], 3, padding=1),
                nn.BatchNorm2d(chans[i + 1]),
                nn.ReLU(),
                nn.MaxPool2d(2, ceil_mode=True),
            ]
        self.body = nn.Sequential(*blocks)
        self.drop = nn.Dropout(0.2)
        self.head = nn.Linear(chans[-1], num_classes)

    def features(self, waves: Tensor) -> Tensor:
        spec = torch.stft(waves.float(), self.n_fft, self.n_fft // 2, window=self.window,
                          return_complex=True).abs().pow(2)  # fmt: skip
        mel = torch.einsum("nft,fm->nmt", spec, self.fb)
        spec = torch.log(mel + 1e-5).unsqueeze(1)  # [N, 1, M, frames]
        return self.body(spec).mean(dim=(2, 3))

    def forward(self, waves: Tensor) -> Tensor:
        return self.head(self.drop(self.features(waves)))


def train_classifier(
    waves: Tensor, labels: Tensor, sample_rate: int, num_classes: int, steps: int = 400,
    seed: int = 0, batch_size: int = 64,
) -> AudioClassifier:  # fmt: skip
    if len(labels.unique()) < 2:
        raise ValueError("the classifier needs labelled reference clips of at least 2 classes")
    key = f"audio-cnn-{sample_rate}-{num_classes}-{C.data_fingerprint(waves, labels)}"
    model = C.fit_classifier(
        lambda: AudioClassifier(sample_rate, num_classes), waves, labels,
        key=key, steps=steps, seed=seed, batch_size=batch_size, lr=2e-3,
    )  # fmt: skip
    return model


@torch.no_grad()
def embed(model: AudioClassifier, waves: Tensor, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(features [N, 128] float64, logits [N, C] float64)."""
    model.eval()
    feats, logits = [], []
    for s in range(0, len(waves), batch):
        f = model.features(waves[s : s + batch])
        feats.append(f.double())
        logits.append(model.head(f).double())
    return torch.cat(feats).numpy(), torch.cat(logits).numpy()


def classifier_scores(
    model: AudioClassifier,
    gen: Tensor,
    ref: Tensor,
    ref_labels: Tensor,
    gen_labels: Tensor | None = None,
    ndb_k: int = 50,
    seed: int = 0,
) -> dict[str, float]:
    fg, lg = embed(model, gen)
    fr, lr = embed(model, ref)
    pg = torch.softmax(torch.from_numpy(lg), 1).numpy()
    pr = torch.softmax(torch.from_numpy(lr), 1).numpy()
    out = {
        "fd_cls": frechet_distance_features(fr, fg),
        "is": C.inception_score(pg),
        "mis": C.modified_inception_score(pg) if len(pg) > 1 else float("nan"),
        "am": C.am_score(pg, pr),
        "cls_acc_reference": C.accuracy(lr, ref_labels),
    }
    nd = C.ndb(fr, fg, k=ndb_k, seed=seed)
    out["ndb"], out["ndb_k"] = nd["ndb"], nd["ndb_k"]
    if gen_labels is not None and bool((gen_labels >= 0).all()):
        out["accuracy"] = C.accuracy(lg, gen_labels)
    return out
