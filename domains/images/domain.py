"""The image domain adapter: datasets, networks, PNG export and image metrics."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor

from multigen.domain import (
    Batch,
    DatasetSpec,
    DensityUnits,
    Domain,
    DomainError,
    NetworkSpec,
    unwrap_dataset,
)

from . import data, scenes, translation, unpaired
from .codec import codec_specs
from .io import IMAGE_SUFFIXES, export_images
from .metrics import OPTIONS, ImageSet, as_images, check_reference, evaluate_images
from .networks.autoencoder import build_autoencoder
from .networks.dcgan import build_discriminator, build_generator
from .networks.ddgan import build_ddgan_discriminator, build_ddgan_unet
from .networks.dit import build_dit
from .networks.pix2pix import build_discriminator as build_patch_discriminator
from .networks.pix2pix import build_generator as build_pix2pix_generator
from .networks.progan import build_discriminator as build_pg_discriminator
from .networks.progan import build_generator as build_pg_generator
from .networks.sr3 import build_sr3_unet
from .networks.stylegan2 import build_discriminator as build_sg2_discriminator
from .networks.stylegan2 import build_generator as build_sg2_generator
from .networks.unet import build_unet

log = logging.getLogger(__name__)

SIGMA_DATA = 0.5  # pixels in [-1, 1]: the EDM paper's value for images


def _datasets() -> dict[str, DatasetSpec]:
    return {
        "digits": DatasetSpec(
            "digits",
            "scikit-learn's 1,797 8x8 handwritten digits upsampled to `size` (16), labels 0-9, "
            "fixed 80/20 train/test split",
            data.load_digits_dataset,
            prepare=data.prepare_digits,
        ),
        "folder": DatasetSpec(
            "folder",
            "PNG/JPEG folder; class labels from sub-folders; params size (32), channels "
            "(1|3), strict (true); uses PATH/<split>/ when present",
            data.load_folder_dataset,
            needs_path=True,
        ),
        "digits_sr": DatasetSpec(
            "digits_sr",
            "super-resolution pairs: digits at `size` (16) from their `factor` (4) times "
            "area-downsampled copies; same split as digits (domains/images/translation.py)",
            translation.sr_loader,
        ),
        "digits_edges": DatasetSpec(
            "digits_edges",
            "edges -> digit pairs: digits at `size` (16) from their binary stroke outlines; "
            "same split as digits (domains/images/translation.py)",
            translation.edges_loader,
        ),
        "digits_thin_bold": DatasetSpec(
            "digits_thin_bold",
            "unpaired thin (A) <-> bold (B) digits at `size` (16), made by grey-level erosion / "
            "dilation; A and B from disjoint halves of each split (domains/images/unpaired.py)",
            unpaired.thin_bold_loader,
        ),
        "unpaired_folder": DatasetSpec(
            "unpaired_folder",
            "unpaired PNG/JPEG folders: data.path = B (targets), params source_path = A "
            "(sources), size (32), channels (3); PATH/<split>/ when present",
            unpaired.folder_loader,
            needs_path=True,
        ),
        "digit_scenes": DatasetSpec(
            "digit_scenes",
            "captioned scenes for text-to-image: two digits, left and right, large or small, "
            "'a large 3 left of a small 7'; params size (16), n (8000 train / 1000 test), "
            "seed; 10 digit pairs held out of training (domains/images/scenes.py)",
            scenes.scenes_loader,
        ),
        "npz": DatasetSpec(
            "npz",
            ".npz with 'x'/'images' (N,H,W[,C]) uint8 or float and optional 'y'/'labels'; "
            "params size, channels",
            data.load_npz_dataset,
            needs_path=True,
        ),
    }


def _networks() -> dict[str, NetworkSpec]:
    return {
        "unet": NetworkSpec("unet", "denoiser", build_unet, "ADM-style U-Net with attention"),
        "dit": NetworkSpec("dit", "denoiser", build_dit, "DiT: patch transformer, adaLN-Zero"),
        "dcgan_generator": NetworkSpec("dcgan_generator", "generator", build_generator),
        "dcgan_discriminator": NetworkSpec(
            "dcgan_discriminator", "discriminator", build_discriminator
        ),
        "progan_generator": NetworkSpec(
            "progan_generator",
            "generator",
            build_pg_generator,
            "ProGAN: grows 4x4 -> full size with fade-in (method.grow_until), pixel norm",
        ),
        "progan_discriminator": NetworkSpec(
            "progan_discriminator",
            "discriminator",
            build_pg_discriminator,
            "ProGAN discriminator: grows with the generator, minibatch std, projection",
        ),
        "kl_autoencoder": NetworkSpec(
            "kl_autoencoder",
            "autoencoder",
            build_autoencoder,
            "KL autoencoder (latent diffusion's first stage; method autoencoder, codec vae)",
        ),
        "sr3_unet": NetworkSpec(
            "sr3_unet",
            "denoiser",
            build_sr3_unet,
            "SR3/Palette: the U-Net given the noisy target beside the (upsampled) source image",
        ),
        "pix2pix_generator": NetworkSpec(
            "pix2pix_generator",
            "generator",
            build_pix2pix_generator,
            "pix2pix U-Net: source image -> target, dropout as its only noise",
        ),
        "patchgan_discriminator": NetworkSpec(
            "patchgan_discriminator",
            "discriminator",
            build_patch_discriminator,
            "pix2pix PatchGAN: one logit per patch of the (source, target) pair",
        ),
        "stylegan2_generator": NetworkSpec(
            "stylegan2_generator",
            "generator",
            build_sg2_generator,
            "StyleGAN2: mapping network, modulated convs, noise inputs, skip outputs",
        ),
        "stylegan2_discriminator": NetworkSpec(
            "stylegan2_discriminator",
            "discriminator",
            build_sg2_discriminator,
            "StyleGAN2 residual discriminator with minibatch std and class projection",
        ),
        "ddgan_unet": NetworkSpec(
            "ddgan_unet",
            "generator",
            build_ddgan_unet,
            "DDGAN generator: the U-Net, G(x_t, t, z) -> x0, z added to the time embedding",
        ),
        "ddgan_discriminator": NetworkSpec(
            "ddgan_discriminator",
            "discriminator",
            build_ddgan_discriminator,
            "DDGAN: time-conditioned conv discriminator of the (x_prev, x_t) pair",
        ),
    }


def _subsample(images: Tensor, labels: Tensor | None, n: int | None, seed: int = 0):
    """A fixed random subset of size n (the same for every call)."""
    if n is None or n >= len(images):
        return images, labels
    if n < 1:
        raise DomainError(f"reference size must be >= 1, got {n}")
    idx = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]
    idx = idx.sort().values
    return images[idx], None if labels is None else labels[idx]


# Reference names for the digits as drawn (the feature CNN always learns the plain training
# digits): plain, or thin / bold as the unpaired task makes them (unpaired.py).
DIGIT_STYLES = {
    "digits": lambda images: images,
    "digits_thin": unpaired.thin,
    "digits_bold": unpaired.bold,
}


@dataclass
class ImageDomain(Domain):
    name: str = "images"
    default_dataset: str = "digits"
    eval_options: ClassVar[dict[str, str]] = OPTIONS
    # FD also warns while N <= the feature dimension (singular covariance); KID is unbiased
    # and usable from 50; precision/recall and IS need the default 100
    min_samples: ClassVar[dict[str, int]] = {"kid_*": 50}
    image_augment: ClassVar[bool] = True  # ADA's augmentations apply to these states
    codecs: dict[str, Any] = field(default_factory=codec_specs)  # latent: {codec: vae}

    def __post_init__(self) -> None:
        self.datasets = self.datasets or _datasets()
        self.networks = self.networks or _networks()

    # ---- data -------------------------------------------------------------------------
    def collate(self, items: Sequence[Any]) -> Batch:
        if isinstance(items[0], tuple | list):
            xs, ys = zip(*items)
            if isinstance(ys[0], Tensor):  # image pairs: the source image is the condition
                return Batch(torch.stack(list(xs)), None, torch.stack(list(ys)))
            return Batch(torch.stack(list(xs)), None, torch.tensor(ys, dtype=torch.long))
        return Batch(torch.stack(list(items)))

    def describe(self, dataset: torch.utils.data.Dataset) -> dict[str, Any]:
        ds = unwrap_dataset(dataset, data.ImageDataset, "images")
        return {
            "shape": list(ds.images.shape[1:]),
            "num_classes": ds.num_classes,
            "class_names": ds.class_names,
            "cond_dim": 0,
            "sigma_data": SIGMA_DATA,
            "x0_clip": [-1.0, 1.0],  # images are the one domain whose x̂0 is clipped
            "dataset": ds.name,
            **(translation.describe_pairs(ds) if isinstance(ds, translation.PairedDataset) else {}),
            **(unpaired.describe_unpaired(ds) if isinstance(ds, unpaired.UnpairedDataset) else {}),
            **(scenes.describe_text(ds) if isinstance(ds, scenes.ScenesDataset) else {}),
        }

    def template(
        self,
        info: dict[str, Any],
        n: int,
        generator: torch.Generator,
        cond: Tensor | None = None,
        device: torch.device | str = "cpu",
    ) -> Batch:
        """Paired runs sampled without sources translate test-split sources drawn by the
        sample's generator (the trainer's final samples); see translation.default_sources
        (unpaired runs: unpaired.default_sources)."""
        if cond is None and "unpaired" in info:
            cond = unpaired.default_sources(info, [generator] * n)
        elif cond is None and translation.source_shape(info) is not None:
            cond = translation.default_sources(info, [generator] * n)
        return super().template(info, n, generator, cond, device)

    def load_sources(self, path: Path, info: dict[str, Any]) -> tuple[Tensor, list[str]]:
        """Source images to translate (a folder of PNG/JPEG, one image, or .npz) as conditions
        in [-1, 1], with a name per image; refused in one line unless they have the shape the
        run was trained on."""
        images, names = translation.read_sources(Path(path), info)
        return data.to_float(images), names

    def score_pairs(self, samples: Any, names: list[str], targets: Path) -> dict[str, float]:
        """PSNR (dB) and SSIM of translations against ``targets/<name>.png``."""
        outputs = as_images(samples, "samples")
        paired = translation.read_targets(names, Path(targets), outputs.shape[1:])
        return translation.paired_scores(outputs, paired)

    def export_named(self, samples: Any, names: list[str], out_dir: Path) -> list[Path]:
        """Translations written as ``OUT/<name>.png``, one per source image."""
        return translation.write_named(as_images(samples, "samples"), names, Path(out_dir))

    # ---- outputs ------------------------------------------------------------------------
    def decode(self, batch: Batch, info: dict[str, Any]) -> Tensor:
        """States in [-1, 1] (clipped) -> uint8 images [N, C, H, W] on the CPU."""
        return data.to_uint8(batch.x.detach().cpu())

    def encode(self, samples: Any, info: dict[str, Any]) -> Batch:
        """uint8 images (an ImageSet, files read back) -> states in [-1, 1]; an ImageSet's
        labels travel as the condition. The images must have the run's shape."""
        images = as_images(samples, "images")
        shape = tuple(info["shape"])
        if tuple(images.shape[1:]) != shape:
            raise DomainError(
                f"images of shape {list(images.shape[1:])} do not match the run's "
                f"{list(shape)} (channels, height, width)"
            )
        labels = getattr(samples, "labels", None)
        return Batch(data.to_float(images), None, labels)

    def density_units(self, info: dict[str, Any]) -> DensityUnits:
        """8-bit levels: the state is k/127.5 - 1, one level is 1/127.5 wide, so log p per
        level = log p_state - dim·log 127.5 after uniform dequantisation (Ho et al. 2020 and
        Song et al. 2021 scale by 2/256 instead: their offset is 7 bits/dim, ours log₂127.5 =
        6.994)."""
        return DensityUnits(log_scale=-math.log(127.5), bin_width=1 / 127.5, unit="8-bit level")

    def export(self, samples: Any, out_dir: Path) -> list[Path]:
        return export_images(as_images(samples, "samples"), Path(out_dir))

    def load_samples(self, path: Path, strict: bool = False) -> ImageSet:
        images, skipped = data.load_image_files(Path(path), strict=strict)
        if skipped:
            log.warning(
                "skipped %d unreadable file(s): %s",
                len(skipped),
                ", ".join(f"{p} ({why})" for p, why in skipped[:5]),
            )
        captions = _prompts(path, skipped)
        if captions is not None and len(captions) != len(images):
            raise DomainError(
                f"{Path(path) / 'prompts.txt'}: {len(captions)} prompts for {len(images)} "
                "images; it must hold one line per sample (as `multigen sample --prompt` "
                "writes it), or remove it"
            )
        return ImageSet(images, name=str(path), skipped=skipped, captions=captions)

    def reference(self, spec: str, n: int | None = None, strict: bool = False) -> ImageSet:
        """``digits[:train|test|all]`` (train by default), ``digits_thin`` / ``digits_bold``
        (the same digits drawn thin or bold, domains/images/unpaired.py), an image folder or
        a .npz file."""
        spec = str(spec)
        name, _, split = spec.partition(":")
        style = DIGIT_STYLES.get(name)
        if style is not None and not Path(spec).exists():
            split = split or "train"
            size = 16
            if "@" in split:  # digits:test@32 -> 32x32 reference
                split, _, s = split.partition("@")
                size = int(s)
            ds = data.load_digits_dataset(None, split, size=size)  # checks the split
            train = data.load_digits_dataset(None, "train", size=size)
            images, labels = _subsample(style(ds.images), ds.labels, n)
            label = ds.name if name == "digits" else f"{name}:{split}"
            return ImageSet(images, labels, 10, label, "digitcnn", train.images, train.labels)
        if name == "digit_scenes" and not Path(spec).exists():
            # captioned scenes: scored with the digit CNN's features, like the digits
            ds = scenes.make_scenes(split or "test", n or 1000)
            train = data.load_digits_dataset(None, "train", size=16)
            return ImageSet(ds.images, None, 0, ds.name, "digitcnn", train.images, train.labels)
        path = Path(spec)
        if not path.exists():
            raise DomainError(
                f"reference {spec!r} is neither a dataset (digits[:train|test|all], "
                "digit_scenes[:test]) nor an "
                "existing image folder / .npz file"
            )
        if path.is_file() and path.suffix.lower() in (".npz", ".npy"):
            ds = data.load_npz_dataset(path)
        elif path.is_dir():
            ds = data.load_folder_dataset(path, split=None, size=None, channels=None, strict=strict)
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            raise DomainError(f"reference {path} is a single image; give a folder of images")
        else:
            raise DomainError(f"reference {path}: expected an image folder or a .npz/.npy file")
        images, labels = _subsample(ds.images, ds.labels, n)
        # the feature CNN learns from the whole reference, even when only n are scored
        return ImageSet(
            images,
            labels,
            ds.num_classes,
            ds.name,
            "refcnn",
            ds.images if ds.labels is not None else None,
            ds.labels,
            list(ds.skipped),
        )

    def evaluate(self, samples: Any, reference: Any, **options: Any) -> dict[str, float]:
        self.check_options(options)
        if isinstance(reference, str | Path):
            reference = self.reference(str(reference))
        out = evaluate_images(samples, reference, **options)
        captions = getattr(samples, "captions", None)
        if captions and scenes.is_scene_grammar(captions):  # text-to-image samples
            images = samples.images.float() / 255
            out.update({f"compositional_{k}": v for k, v in scenes.compositional_scores(
                images, captions).items()})  # fmt: skip
        return out

    def check_evaluation(self, reference: Any, **options: Any) -> None:
        self.check_options(options)
        check_reference(reference, **options)


def _prompts(path: Path, skipped: list) -> list[str] | None:
    """The prompts a sample folder was drawn from (``prompts.txt``, one per image, as
    ``multigen sample --prompt`` writes it), when every image was read."""
    file = Path(path) / "prompts.txt"
    if skipped or not file.is_file():
        return None
    return file.read_text(encoding="utf-8", errors="replace").splitlines()


def get_domain() -> ImageDomain:
    return ImageDomain()
