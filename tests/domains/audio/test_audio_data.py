from pathlib import Path

import pytest
import soundfile as sf
import torch

from multigen.domain import DomainError
from multigen_domains.audio import data as D
from multigen_domains.audio import get_domain
from tests.domains.audio.conftest import tone


def test_embedded_deterministic_split_and_describe():
    a = D.embedded(None, "train", n_per_class=4, length=1024)
    b = D.embedded(None, "train", n_per_class=4, length=1024)
    t = D.embedded(None, "test", n_per_class=4, length=1024)
    assert torch.equal(a.waves, b.waves)
    assert a.waves.shape == (32, 1024) and len(t) == 8
    assert not torch.isclose(a.waves[:8], t.waves).all()
    assert a.waves.abs().max() <= 0.9 + 1e-6 and torch.isfinite(a.waves).all()
    assert sorted(a.labels.unique().tolist()) == list(range(8))
    info = get_domain().describe(a)
    assert info["shape"] == [1, 1024] and info["num_classes"] == 8 and info["cond_dim"] == 0
    assert info["sample_rate"] == 8000
    assert info["sigma_data"] == pytest.approx(float(a.waves.double().std()))
    x, y = a[3]
    assert x.shape == (1, 1024) and y == 3


def test_folder_labels_from_subfolders(wav_folder: Path):
    ds = D.folder(wav_folder, "all", sample_rate=8000, length=2000)
    assert ds.class_names == ["high", "low"] and ds.waves.shape == (6, 2000)
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 1]
    batch = get_domain().collate([ds[0], ds[4]])
    assert batch.x.shape == (2, 1, 2000) and batch.cond.tolist() == [0, 1]


def test_folder_without_split_subfolders_is_split_80_10_10(tmp_path: Path):
    # Issue 20, finding 6: without train/ and test/ both splits were the whole folder, so a
    # run scored itself on its own training clips.
    for i in range(20):
        _write(tmp_path / "clips" / f"c{i:02d}.wav", n=800)
    parts = {s: D.folder(tmp_path / "clips", s, length=800) for s in ("train", "valid", "test")}
    names = {s: set(ds.names) for s, ds in parts.items()}
    assert [len(names[s]) for s in ("train", "valid", "test")] == [16, 2, 2]
    assert not names["train"] & names["test"] and not names["train"] & names["valid"]
    assert len(D.folder(tmp_path / "clips", "all", length=800)) == 20
    assert "80/10/10" in parts["test"].notes[0] and "seed 0" in parts["test"].notes[0]
    other = D.folder(tmp_path / "clips", "test", length=800, seed=1)
    assert set(other.names) != names["test"]  # the seed picks the split
    (tmp_path / "half" / "train").mkdir(parents=True)
    _write(tmp_path / "half" / "train" / "a.wav", n=800)
    with pytest.raises(DomainError, match="no test/"):
        D.folder(tmp_path / "half", "test", length=800)


def _write(path: Path, sr: int = 16000, n: int = 12000):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(300, sr, n), sr)


def test_sc09_wavegan_layout(tmp_path: Path):
    for split in ("train", "test"):
        for d in ("Zero", "Nine"):
            _write(tmp_path / split / f"{d}_abc123_nohash_0.wav")
    _write(tmp_path / "train" / "Nine_bad_nohash_1.wav", sr=8000)  # wrong rate: skipped
    ds = D.sc09(tmp_path, "train")
    assert ds.waves.shape == (2, 16000)  # 0.75 s clips zero-padded to 1 s
    assert sorted(ds.labels.tolist()) == [0, 9]
    assert ds.skipped and "8000 Hz" in ds.skipped[0][1]
    with pytest.raises(DomainError, match="Nine_bad"):
        D.sc09(tmp_path, "train", strict=True)


def test_sc09_speech_commands_layout(tmp_path: Path):
    for word in ("two", "three", "bed"):
        for spk in ("aa", "bb", "cc"):
            _write(tmp_path / word / f"{spk}_nohash_0.wav")
    (tmp_path / "testing_list.txt").write_text("two/cc_nohash_0.wav\nthree/cc_nohash_0.wav\n")
    (tmp_path / "validation_list.txt").write_text("two/bb_nohash_0.wav\n")
    train = D.sc09(tmp_path, "train")
    test = D.sc09(tmp_path, "test")
    assert len(train) == 3 and len(test) == 2  # "bed" is not a digit
    assert sorted(test.labels.tolist()) == [2, 3]


def test_missing_and_empty_folders(tmp_path: Path):
    with pytest.raises(DomainError, match="not found"):
        D.folder(tmp_path / "nope")
    (tmp_path / "e").mkdir()
    with pytest.raises(DomainError, match="no audio files"):
        D.folder(tmp_path / "e")
    with pytest.raises(DomainError, match="prepare spoken-digits"):
        D.spoken_digits(tmp_path / "absent")
