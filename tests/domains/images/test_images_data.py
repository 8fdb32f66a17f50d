import numpy as np
import pytest
import torch

from multigen.domain import Batch, DomainError
from multigen_domains.images import get_domain
from multigen_domains.images.data import digits_split_indices, load_folder_dataset


@pytest.fixture(scope="module")
def dom():
    return get_domain()


@pytest.mark.parametrize("size", [16, 32])
def test_digits_shapes_ranges_labels(dom, size):
    ds = dom.load_dataset("digits", split="train", size=size)
    x, y = ds[0]
    assert x.shape == (1, size, size) and x.dtype == torch.float32
    assert ds.images.shape == (1438, 1, size, size)
    assert x.min() >= -1 and x.max() <= 1
    assert ds.images.min() == 0 and ds.images.max() == 255  # full dynamic range
    assert set(ds.labels.tolist()) == set(range(10)) and isinstance(y, int)
    info = dom.describe(ds)
    assert info["shape"] == [1, size, size] and info["num_classes"] == 10
    assert info["cond_dim"] == 0 and info["sigma_data"] == 0.5


def test_digits_split_is_fixed_and_disjoint():
    tr, te, al = (digits_split_indices(s) for s in ("train", "test", "all"))
    assert len(tr) + len(te) == len(al) == 1797
    assert not set(tr) & set(te)
    assert np.array_equal(tr, digits_split_indices("train"))


def test_digits_bad_split_and_size(dom):
    with pytest.raises(DomainError, match="splits"):
        dom.load_dataset("digits", split="val")
    with pytest.raises(DomainError, match="size"):
        dom.load_dataset("digits", size=2)


def test_collate_gives_labels(dom):
    ds = dom.load_dataset("digits", split="test")
    b = dom.collate([ds[i] for i in range(5)])
    assert b.x.shape == (5, 1, 16, 16) and b.cond.dtype == torch.long
    assert b.cond.tolist() == ds.labels[:5].tolist()


@pytest.mark.parametrize("channels", [1, 3])
def test_folder_classes_resize_crop(class_folder, channels):
    ds = load_folder_dataset(class_folder, size=16, channels=channels)
    assert ds.images.shape == (6, channels, 16, 16)
    assert ds.class_names == ["cat", "dog"] and ds.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert ds.skipped == []


def test_folder_centre_crop_known_answer(tmp_path, write_image):
    # 20 high x 40 wide: outer 10-pixel bands red/blue, centre 20 columns grey 128.
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :10] = (255, 0, 0)
    arr[:, 10:30] = 128
    arr[:, 30:] = (0, 0, 255)
    write_image(tmp_path / "a" / "x.png", arr)
    ds = load_folder_dataset(tmp_path / "a", size=20, channels=3)
    assert torch.all(ds.images == 128)  # the crop kept exactly the centre
    assert ds.num_classes == 0 and ds.labels is None


def test_folder_uses_split_subfolder(tmp_path, write_image):
    write_image(tmp_path / "train" / "a" / "0.png", np.zeros((8, 8)))
    write_image(tmp_path / "test" / "a" / "0.png", np.full((8, 8), 200))
    ds = load_folder_dataset(tmp_path, split="test", size=8, channels=1)
    assert ds.images.shape == (1, 1, 8, 8) and int(ds.images.max()) == 200


def test_folder_corrupt_image_strict_and_lenient(class_folder):
    bad = class_folder / "dog" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    with pytest.raises(DomainError, match="broken.png") as err:
        load_folder_dataset(class_folder, size=16)
    assert "strict" in str(err.value)
    ds = load_folder_dataset(class_folder, size=16, strict=False)
    assert len(ds) == 6
    assert [p for p, _ in ds.skipped] == [str(bad)]


def test_folder_truncated_jpeg_is_unreadable(tmp_path, write_image):
    good = write_image(tmp_path / "f" / "a.jpg", np.full((32, 32, 3), 90))
    data = good.read_bytes()
    (tmp_path / "f" / "b.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(DomainError, match="b.jpg"):
        load_folder_dataset(tmp_path / "f", size=16)


def test_folder_missing_empty_mixed(tmp_path, write_image):
    with pytest.raises(DomainError, match="not found"):
        load_folder_dataset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DomainError, match="no PNG/JPEG"):
        load_folder_dataset(tmp_path / "empty")
    write_image(tmp_path / "mixed" / "top.png", np.zeros((8, 8)))
    write_image(tmp_path / "mixed" / "cls" / "a.png", np.zeros((8, 8)))
    with pytest.raises(DomainError, match="both directly and in sub-folders"):
        load_folder_dataset(tmp_path / "mixed")
    with pytest.raises(DomainError, match="needs a path"):
        get_domain().load_dataset("folder")


def test_npz_formats(tmp_path, dom):
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (5, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", x=u8, y=np.arange(5))
    ds = dom.load_dataset("npz", tmp_path / "a.npz")
    assert ds.images.shape == (5, 1, 8, 8) and torch.equal(ds.images[:, 0], torch.from_numpy(u8))
    assert ds.labels.tolist() == [0, 1, 2, 3, 4] and ds.num_classes == 5
    # float [0,1] NHWC and float [-1,1] give the same uint8 images
    f01 = rng.integers(0, 256, (4, 6, 6, 3)).astype(np.float32) / 255
    np.savez(tmp_path / "b.npz", images=f01)
    np.savez(tmp_path / "c.npz", images=f01 * 2 - 1)
    b = dom.load_dataset("npz", tmp_path / "b.npz").images
    c = dom.load_dataset("npz", tmp_path / "c.npz").images
    assert b.shape == (4, 3, 6, 6) and torch.equal(b, c)
    assert torch.equal(
        b, torch.from_numpy(np.round(f01 * 255).astype(np.uint8)).permute(0, 3, 1, 2)
    )


def test_npz_bad_input(tmp_path, dom):
    np.savez(tmp_path / "k.npz", pixels=np.zeros((2, 4, 4)))
    with pytest.raises(DomainError, match="'x' or 'images'.*pixels"):
        dom.load_dataset("npz", tmp_path / "k.npz")
    np.savez(tmp_path / "l.npz", x=np.zeros((2, 4, 4), np.uint8), y=np.arange(3))
    with pytest.raises(DomainError, match="3 entries"):
        dom.load_dataset("npz", tmp_path / "l.npz")
    np.savez(tmp_path / "r.npz", x=np.full((2, 4, 4), 300.0))
    with pytest.raises(DomainError, match="pixel values"):
        dom.load_dataset("npz", tmp_path / "r.npz")
    (tmp_path / "z.npz").write_bytes(b"garbage")
    with pytest.raises(DomainError, match="z.npz"):
        dom.load_dataset("npz", tmp_path / "z.npz")


def test_decode_clips_and_export_roundtrip(tmp_path, dom):
    x = torch.linspace(-1.5, 1.5, 3 * 16).reshape(3, 1, 4, 4)
    imgs = dom.decode(Batch(x.double()), {})
    assert imgs.dtype == torch.uint8 and imgs.shape == (3, 1, 4, 4)
    assert imgs.min() == 0 and imgs.max() == 255
    rgb = torch.randint(0, 256, (5, 3, 8, 8), dtype=torch.uint8)
    files = dom.export(rgb, tmp_path / "s")
    names = sorted(p.name for p in files)
    assert names[-1] == "sample_00004.png" and "grid.png" in names
    back = dom.load_samples(tmp_path / "s")
    assert torch.equal(back.images, rgb)  # PNG is lossless; grid.png is not a sample
    np.savez(tmp_path / "s.npz", x=rgb.permute(0, 2, 3, 1).numpy())
    assert torch.equal(dom.load_samples(tmp_path / "s.npz").images, rgb)


def test_load_samples_skips_unreadable_when_lenient(tmp_path, dom):
    dom.export(torch.zeros(3, 1, 8, 8, dtype=torch.uint8), tmp_path / "s")
    (tmp_path / "s" / "junk.png").write_bytes(b"nope")
    with pytest.raises(DomainError, match="junk.png"):
        dom.load_samples(tmp_path / "s", strict=True)
    got = dom.load_samples(tmp_path / "s", strict=False)
    assert len(got) == 3 and got.skipped[0][0].endswith("junk.png")
    with pytest.raises(DomainError, match="not found"):
        dom.load_samples(tmp_path / "missing")


def test_prepare_digits_folder_matches_dataset(tmp_path, dom):
    root = dom.datasets["digits"].prepare(tmp_path / "digits_png")
    folder = dom.load_dataset("folder", root, split="test", size=16, channels=1)
    digits = dom.load_dataset("digits", split="test")
    assert len(folder) == len(digits)
    order = torch.argsort(folder.labels, stable=True)
    assert torch.equal(
        folder.labels[order], digits.labels[torch.argsort(digits.labels, stable=True)]
    )
    # every digit image appears in the folder exactly (PNG is lossless, no resize at 16)
    assert {bytes(i.numpy()) for i in folder.images} == {bytes(i.numpy()) for i in digits.images}
