import numpy as np
import pytest
from PIL import Image


@pytest.fixture
def write_image():
    """Write an RGB/grey uint8 array as PNG/JPEG and return its path."""

    def write(path, arr):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(arr, dtype=np.uint8)).save(path)
        return path

    return write


@pytest.fixture
def class_folder(tmp_path, write_image):
    """root/{cat,dog}/*.png, 3 images per class, non-square RGB of varying sizes."""
    rng = np.random.default_rng(0)
    root = tmp_path / "imgs"
    for c, name in enumerate(["cat", "dog"]):
        for i in range(3):
            h, w = 20 + 4 * i, 30 + 2 * i
            arr = rng.integers(0, 256, (h, w, 3))
            arr[..., c] = 255
            write_image(root / name / f"{i}.png", arr)
    return root
