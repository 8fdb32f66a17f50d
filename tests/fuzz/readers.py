"""Every reader the suite has, each with a valid seed file to mutate and the user-facing call
that reads it (the same path ``multigen evaluate``/``train`` take)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from multigen.config import load_config
from multigen.registry import get_domain


@dataclass(frozen=True)
class Reader:
    name: str
    suffix: str
    seed: Callable[[], bytes]
    read: Callable[[Path], Any]
    text: bool = False
    names: tuple[str, ...] = ()  # what an error must name (default: the case file's name)


def _png(fmt: str = "PNG") -> bytes:
    from PIL import Image

    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(buf, fmt)
    return buf.getvalue()


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _audio(fmt: str, subtype: str | None = None) -> bytes:
    import soundfile as sf

    t = np.arange(800) / 8000
    buf = io.BytesIO()
    sf.write(buf, 0.5 * np.sin(2 * np.pi * 440 * t), 8000, format=fmt, subtype=subtype)
    return buf.getvalue()


def _mesh(fmt: str) -> bytes:
    import trimesh

    data = trimesh.creation.box().export(file_type=fmt)
    return data.encode() if isinstance(data, str) else bytes(data)


def _ply_points() -> bytes:
    pts = np.random.default_rng(0).normal(size=(16, 3)).astype("<f4")
    head = b"ply\nformat binary_little_endian 1.0\nelement vertex 16\n"
    head += b"property float x\nproperty float y\nproperty float z\nend_header\n"
    return head + pts.tobytes()


def _sdf() -> bytes:
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mol = Chem.AddHs(Chem.MolFromSmiles("CCO"))
    AllChem.EmbedMolecule(mol, randomSeed=0)
    return (Chem.MolToMolBlock(mol) + "$$$$\n").encode()


XYZ_MOL = b"3\nwater\nO 0.000 0.000 0.117\nH 0.000 0.757 -0.467\nH 0.000 -0.757 -0.467\n"
SMILES = b"smiles\nCCO\nc1ccccc1\nCC(=O)O\n"
SMILES_CSV = b"name,smiles,logp\nethanol,CCO,-0.1\nbenzene,c1ccccc1,1.7\n"
TOY_CSV = b"x,y\n0.5,1.0\n-1.0,2.0\n0.0,0.0\n"
YAML = b"""domain: toy
data: {name: eight_gaussians, params: {n: 64}, batch_size: 16}
model: {name: mlp, params: {width: 16, depth: 1}}
method: {name: flow}
train: {steps: 2, lr: 0.001, progress: false}
sample: {n: 8, steps: 2}
eval: {n_samples: 16}
"""


def _images(path: Path) -> Any:
    return get_domain("images").load_samples(path, strict=True)


def _audio_read(path: Path) -> Any:
    return get_domain("audio").load_samples(path, strict=True)


def _shapes(path: Path) -> Any:
    return get_domain("shapes").load_samples(path, strict=True, n_points=64)


def _molecules(path: Path) -> Any:
    return get_domain("molecules").load_samples(path, strict=True)


def _qm9_seed() -> bytes:
    """Part 2 (four molecules) of a valid twelve-molecule qm9pack folder (the tests' fixture)."""
    import tempfile

    from multigen_domains.molecules.qm9_pack import PACK_PARTS
    from tests.domains.molecules.test_mol_qm9pack import write_pack

    with tempfile.TemporaryDirectory() as d:
        return (write_pack(Path(d) / "pack") / PACK_PARTS[1]).read_bytes()


def _qm9(path: Path) -> Any:
    """The mutated CSV as part 2 of an otherwise valid qm9pack folder, read as `data prepare
    qm9` / a `qm9` dataset with data.path does."""
    from multigen_domains.molecules.qm9_pack import PACK_PARTS, read_pack
    from tests.domains.molecules.test_mol_qm9pack import write_pack

    folder = write_pack(path.parent / "pack")  # every part holds rows
    (folder / PACK_PARTS[1]).write_bytes(path.read_bytes())  # errors name qm9_part2.csv
    table = read_pack(folder, progress=False)
    return table.positions, table.props


def _toy(path: Path) -> Any:
    return get_domain("toy").load_samples(path, strict=True)


def _config(path: Path) -> Any:
    return load_config(path)


READERS = [
    Reader("images/png", ".png", _png, _images),
    Reader("images/jpeg", ".jpg", lambda: _png("JPEG"), _images),
    Reader("images/npy", ".npy", lambda: _npy(np.zeros((2, 1, 8, 8), np.uint8)), _images),
    Reader(
        "images/npz",
        ".npz",
        lambda: _npz(x=np.zeros((2, 8, 8), np.uint8), y=np.arange(2)),
        _images,
    ),
    Reader("audio/wav", ".wav", lambda: _audio("WAV", "PCM_16"), _audio_read),
    Reader("audio/flac", ".flac", lambda: _audio("FLAC"), _audio_read),
    Reader("audio/ogg", ".ogg", lambda: _audio("OGG", "VORBIS"), _audio_read),
    Reader("shapes/ply-points", ".ply", _ply_points, _shapes),
    Reader("shapes/ply-mesh", ".ply", lambda: _mesh("ply"), _shapes),
    Reader("shapes/obj", ".obj", lambda: _mesh("obj"), _shapes, text=True),
    Reader("shapes/stl", ".stl", lambda: _mesh("stl"), _shapes),
    Reader("shapes/off", ".off", lambda: _mesh("off"), _shapes, text=True),
    Reader("shapes/glb", ".glb", lambda: _mesh("glb"), _shapes),
    Reader(
        "shapes/xyz",
        ".xyz",
        lambda: b"0 0 0\n1 0 0\n0 1 0\n0 0 1\n",
        _shapes,
        text=True,
    ),
    Reader("shapes/npy", ".npy", lambda: _npy(np.zeros((2, 16, 3), np.float32)), _shapes),
    Reader("molecules/sdf", ".sdf", _sdf, _molecules, text=True),
    Reader("molecules/xyz", ".xyz", lambda: XYZ_MOL, _molecules, text=True),
    Reader("molecules/smiles", ".smi", lambda: SMILES, _molecules, text=True),
    Reader("molecules/csv", ".csv", lambda: SMILES_CSV, _molecules, text=True),
    Reader("molecules/qm9pack-csv", ".csv", _qm9_seed, _qm9, text=True, names=("qm9_part2",)),
    Reader("toy/npy", ".npy", lambda: _npy(np.zeros((4, 2))), _toy),
    Reader("toy/csv", ".csv", lambda: TOY_CSV, _toy, text=True),
    Reader("config/yaml", ".yaml", lambda: YAML, _config, text=True),
]
BY_NAME = {r.name: r for r in READERS}


@cache
def seed_bytes(name: str) -> bytes:
    return BY_NAME[name].seed()


def write_case(folder: Path, reader: Reader, data: bytes, stem: str = "case") -> Path:
    path = folder / f"{stem}{reader.suffix}"
    path.write_bytes(data)
    return path


def meta_seed(meta: dict) -> bytes:
    return json.dumps(meta, indent=2).encode()
