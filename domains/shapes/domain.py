"""The 3D-shapes domain adapter: point clouds ``[N, 3]`` in, point clouds and meshes out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from multigen.adversarial.ddgan import pair_discriminator
from multigen.domain import Batch, DatasetSpec, Domain, DomainError, NetworkSpec, unwrap_dataset
from multigen.fileio import load_numpy, read_each

from . import (
    data,
    io,
    meshes,
    metrics,
    networks,
    networks_transformer,
    normalize,
    pc15k,
    reconstruct,
    render,
)


@dataclass
class ShapeSamples:
    """Point clouds in data units ``[S, N, 3]`` plus labels and load problems."""

    points: np.ndarray
    labels: np.ndarray | None = None
    names: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.points)


def _common_size(clouds: list[np.ndarray], seed: int = 0) -> np.ndarray:
    """Stack clouds of different sizes by a fixed random subset of the smallest size."""
    n = min(len(c) for c in clouds)
    rng = np.random.default_rng(seed)
    return np.stack([c if len(c) == n else c[rng.choice(len(c), n, replace=False)] for c in clouds])


@dataclass
class ShapesDomain(Domain):
    name: str = "shapes"
    default_dataset: str = "embedded"
    mesh_exports: int = 4  # meshes reconstructed per export (marching cubes is ~0.3 s each)
    grid_size: int = 16  # clouds in the rendered PNG
    eval_options: ClassVar[dict[str, str]] = {
        "metrics": "subset of cd, emd, jsd, fpd (default all; emd up to 2048 points)",
        "emd_mode": "exact (default) or fast",
        "normalize": "none (default), unit_box or unit_sphere, applied to both sets",
        "n": "score the first n of each set",
        "workers": "threads for the distance matrices",
        "fpd_steps": "training steps of the PointNet feature network (default 600)",
        **meshes.READ_OPTIONS,  # how mesh files are read, as data.params are in training
    }
    read_options: ClassVar[tuple[str, ...]] = tuple(meshes.READ_OPTIONS)
    # PointFlow's set metrics compare whole sets: fewer than ~100 clouds and they mostly
    # measure the draw (its benchmarks use the full test split, hundreds of shapes)
    min_samples: ClassVar[dict[str, int]] = {
        "mmd_*": 100, "cov_*": 100, "nna_*": 100, "jsd": 100, "fpd": 100,
    }  # fmt: skip

    def __post_init__(self) -> None:
        self.datasets = {
            "embedded": DatasetSpec(
                "embedded",
                "procedural chairs/tables/airplanes/vases/mugs/lamps (trimesh), cached",
                data.embedded,
            ),
            "mesh_folder": DatasetSpec(
                "mesh_folder",
                "OBJ/STL/PLY/OFF/GLB meshes, classes = sub-folders",
                data.mesh_folder,
                needs_path=True,
            ),
            "pointcloud_folder": DatasetSpec(
                "pointcloud_folder",
                "PLY/XYZ/NPY point clouds",
                data.pointcloud_folder,
                needs_path=True,
            ),
            "pc15k": DatasetSpec(
                "pc15k", "PointFlow ShapeNetCore.v2.PC15k layout", pc15k.pc15k, needs_path=True
            ),
        }
        self.networks = {
            "pointnet": NetworkSpec(
                "pointnet",
                "denoiser",
                networks.build_pointnet,
                "PointNet-style per-point MLP with global context",
            ),
            "point_transformer": NetworkSpec(
                "point_transformer",
                "denoiser",
                networks.build_transformer,
                "Point-E-style transformer, points as tokens",
            ),
            "point_dit": NetworkSpec(
                "point_dit",
                "denoiser",
                networks_transformer.build_point_dit,
                "DiT over points: the engine's adaLN-Zero blocks, points as tokens",
            ),
            "rgan": NetworkSpec("rgan", "generator", networks.build_rgan, "r-GAN MLP generator"),
            "pointnet_disc": NetworkSpec(
                "pointnet_disc", "discriminator", networks.build_pointnet_disc, "PointNet critic"
            ),
            "pointnet_pair_disc": NetworkSpec(
                "pointnet_pair_disc",
                "discriminator",
                pair_discriminator(networks.build_pointnet_disc, axis=-1),
                "DDGAN: the PointNet critic of the pair (x_{t-1}, x_t, t), stacked per point",
            ),
        }

    # ---- data -----------------------------------------------------------------------------
    def collate(self, items):
        if isinstance(items[0], tuple | list):
            xs, labels = zip(*items)
            return Batch(torch.stack(list(xs)), None, torch.as_tensor(labels, dtype=torch.long))
        return Batch(torch.stack(list(items)))

    def describe(self, dataset) -> dict[str, Any]:
        ds = unwrap_dataset(dataset, data.PointCloudSet, "shapes")
        rng = np.random.default_rng(0)
        pick = rng.choice(len(ds), min(len(ds), 256), replace=False)
        sample = np.stack([ds.to_network(ds.cloud(int(i))) for i in pick])
        return {
            "shape": [ds.n_points, 3],
            "num_classes": len(ds.class_names) if ds.use_labels else 0,
            "cond_dim": 0,
            "sigma_data": float(sample.std()),
            "class_names": list(ds.class_names),
            "normalization": ds.normalization,
            "stats": ds.stats,
            "n_shapes": len(ds),
        }

    # ---- outputs ----------------------------------------------------------------------------
    def decode(self, batch: Batch, info: dict[str, Any]) -> ShapeSamples:
        pts = batch.x.detach().to("cpu", torch.float32).numpy()
        if info.get("normalization") == "global":
            pts = normalize.undo_global(pts, info["stats"])
        labels = None if batch.cond is None else batch.cond.detach().cpu().numpy()
        return ShapeSamples(pts.astype(np.float32), labels)

    def export(self, samples: ShapeSamples, out_dir: Path) -> list[Path]:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        files = []
        np.save(out_dir / "samples.npy", samples.points)
        files.append(out_dir / "samples.npy")
        if samples.labels is not None:
            np.save(out_dir / "labels.npy", samples.labels)
            files.append(out_dir / "labels.npy")
        clouds = out_dir / "clouds"
        clouds.mkdir(exist_ok=True)
        for i, pts in enumerate(samples.points):
            files.append(io.write_ply(clouds / f"cloud_{i:04d}.ply", pts))
        files.append(render.render_grid(samples.points[: self.grid_size], out_dir / "grid.png"))
        mesh_dir = out_dir / "meshes"
        mesh_dir.mkdir(exist_ok=True)
        for i, pts in enumerate(samples.points[: self.mesh_exports]):
            try:
                mesh = reconstruct.points_to_mesh(pts)
            except ValueError:  # degenerate sample (e.g. collapsed points): nothing to mesh
                continue
            files += reconstruct.export_mesh(mesh, mesh_dir / f"mesh_{i:04d}")
        return files

    def load_samples(
        self, path: Path, strict: bool = False, n_points: int = 2048, **mesh_options: Any
    ) -> ShapeSamples:
        """``.npy``/``.npz`` arrays ``[S, N, 3]`` or ``[N, 3]``, or a folder: its
        ``samples.npy`` when present, else every point-cloud / mesh file in it (meshes are
        checked with ``mesh_options`` (``meshes.READ_OPTIONS``) and surface-sampled with
        ``n_points``)."""
        self.check_options(mesh_options)
        path = Path(path)
        if path.is_dir() and (path / "samples.npy").is_file():
            path = path / "samples.npy"
        if path.is_file() and path.suffix.lower() in (".npy", ".npz"):
            arr = _load_array(path)
            return ShapeSamples(arr, names=[f"{path.name}[{i}]" for i in range(len(arr))])
        if path.is_file():
            files = [path]
        elif path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        else:
            raise DomainError(f"samples not found: {path}")

        def read(f: Path) -> np.ndarray:
            suffix = f.suffix.lower()
            if suffix in io.POINT_SUFFIXES and (suffix != ".ply" or not _ply_has_faces(f)):
                return io.read_points(f)
            if suffix in meshes.MESH_SUFFIXES:
                mesh = meshes.load_mesh(f, **mesh_options)
                return meshes.sample_surface(mesh, n_points, seed=0)
            raise DomainError(
                f"{f}: unsupported format {suffix!r}; use point clouds "
                f"{sorted(io.POINT_SUFFIXES)} or meshes {sorted(meshes.MESH_SUFFIXES)}"
            )

        read_ok, skipped = read_each(files, read, strict)
        clouds, names = [pts for _, pts in read_ok], [files[i].name for i, _ in read_ok]
        if not clouds:
            raise DomainError(
                f"{path}: no readable point clouds or meshes ({len(skipped)} skipped)"
            )
        return ShapeSamples(_common_size(clouds), names=names, skipped=skipped)

    def reference(
        self, spec: str, n: int | None = None, strict: bool = False, **mesh_options: Any
    ) -> ShapeSamples:
        """``NAME[:split]`` (embedded data set), ``NAME[:split]@PATH`` (folder/PC15k data set)
        or a path to sample files; ``mesh_options`` as for :meth:`load_samples`."""
        self.check_options(mesh_options)
        name, _, where = spec.partition("@")
        ds_name, _, split = name.partition(":")
        if ds_name in self.datasets and (where or not self.datasets[ds_name].needs_path):
            ds = self.load_dataset(
                ds_name,
                where or None,
                split or "test",
                normalization="none",
                **({"strict": True} if strict and where else {}),
                **(mesh_options if ds_name == "mesh_folder" else {}),
            )
            pts = ds.fixed_clouds(n)
            return ShapeSamples(pts, ds.labels[: len(pts)], ds.names[: len(pts)], ds.skipped)
        path = Path(spec)
        if not path.exists():
            raise DomainError(
                f"reference {spec!r} is neither a data set ({', '.join(sorted(self.datasets))}, "
                "as NAME[:split] or NAME[:split]@PATH) nor an existing path"
            )
        ref = self.load_samples(path, strict=strict, **mesh_options)
        if n is not None:
            ref.points = ref.points[:n]
        return ref

    def evaluate(self, samples: Any, reference: Any, **options: Any) -> dict[str, float]:
        """PointFlow metrics. Options: ``metrics`` (subset of cd, emd, jsd, fpd; default all,
        emd only up to PointFlow's 2048 points), ``emd_mode`` (exact|fast), ``normalize``
        (none|unit_box|unit_sphere, applied to both sets), ``n`` (use the first n of each),
        ``workers`` (threads), ``fpd_steps``."""
        self.check_options(options)
        gen, ref = _points(samples, "samples"), _points(reference, "reference")
        n = options.get("n")
        if n:
            gen, ref = gen[:n], ref[:n]
        if gen.shape[1] != ref.shape[1]:  # EMD needs equal sizes: subsample the larger set
            both = _common_size(list(gen) + list(ref), seed=1)
            gen, ref = both[: len(gen)], both[len(gen) :]
        mode = normalize.check_mode(options.get("normalize", "none"))
        if mode in ("unit_box", "unit_sphere"):
            gen, ref = normalize.per_shape(gen, mode), normalize.per_shape(ref, mode)
        chosen = options.get("metrics")
        if chosen is None:
            chosen = ["cd", "jsd", "fpd"] + (["emd"] if gen.shape[1] <= 2048 else [])
        unknown = set(chosen) - {"cd", "emd", "jsd", "fpd"}
        if unknown:
            raise DomainError(f"unknown shapes metrics {sorted(unknown)}; use cd, emd, jsd, fpd")
        scores: dict[str, float] = {"n_samples": float(len(gen)), "n_reference": float(len(ref))}
        joint = None
        if "cd" in chosen:
            cd, joint = metrics.cd_metrics(gen, ref)
            scores.update(cd)
        if "emd" in chosen:
            scores.update(
                metrics.emd_metrics(
                    gen,
                    ref,
                    mode=options.get("emd_mode", "exact"),
                    joint=joint,
                    workers=options.get("workers"),
                )
            )
        if "jsd" in chosen:
            scores["jsd"] = metrics.jsd(*metrics.fit_to_half_ball(gen, ref))
        if "fpd" in chosen:
            from . import classifier

            steps = int(options.get("fpd_steps", 600))
            scores["fpd"] = classifier.fpd(gen, ref, steps=steps)
        return scores


def _points(obj: Any, what: str) -> np.ndarray:
    if isinstance(obj, ShapeSamples):
        arr = obj.points
    elif isinstance(obj, torch.Tensor):
        arr = obj.detach().cpu().numpy()
    else:
        arr = np.asarray(obj)
    if arr.ndim != 3 or arr.shape[-1] != 3 or len(arr) < 2:
        raise DomainError(f"shapes {what}: expected at least 2 clouds [S, N, 3], got {arr.shape}")
    if not np.isfinite(arr).all():
        raise DomainError(f"shapes {what}: NaN or infinite coordinates")
    return arr.astype(np.float32)


def _load_array(path: Path) -> np.ndarray:
    arr = load_numpy(path)  # never unpickled; declared sizes checked; errors name the file
    if isinstance(arr, dict):
        if not arr:
            raise DomainError(f"{path}: holds no arrays")
        arr = arr["points"] if "points" in arr else next(iter(arr.values()))
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[-1] < 3:
        raise DomainError(f"{path}: expected [S, N, 3] or [N, 3], got shape {arr.shape}")
    arr = arr[..., :3].astype(np.float32)
    if not np.isfinite(arr).all():
        raise DomainError(f"{path}: NaN or infinite coordinates")
    return arr


def _ply_has_faces(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(2048).split(b"end_header")[0]
    return any(
        line.startswith(b"element face") and not line.endswith(b" 0") for line in head.splitlines()
    )
