"""Molecule files: SDF/MOL, XYZ, SMILES CSV and PNG depiction grids.

Readers never drop a record silently: they return a :class:`SkipLog` that counts what was
skipped and names the first few records; ``strict=True`` turns the first one into an error.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rdkit import Chem, RDLogger

from multigen.domain import DomainError
from multigen.fileio import error_text, read_text

from .mol import Molecule, kekulized


@dataclass
class SkipLog:
    """Records skipped inputs: a count and the first ``keep`` examples with reasons."""

    strict: bool = False
    keep: int = 5
    count: int = 0
    examples: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def skip(self, where: str, why: str) -> None:
        if self.strict:
            raise DomainError(f"{where}: {why} (run without --strict to skip such records)")
        self.count += 1
        self.reasons.append(f"{where}: {why}")
        if len(self.examples) < self.keep:
            self.examples.append(f"{where}: {why}")

    def summary(self) -> str:
        if not self.count:
            return "nothing skipped"
        return f"skipped {self.count} record(s), e.g. " + "; ".join(self.examples)


class MoleculeList(list):
    """A list of molecules that remembers what was skipped while reading it (``skipped``)."""

    skipped: list[str]


def _files(path: Path, suffixes: tuple[str, ...]) -> list[Path]:
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in suffixes)
        if not files:
            raise DomainError(f"{path}: no {'/'.join(suffixes)} files in this folder")
        return files
    if not path.exists():
        raise DomainError(f"{path}: file not found")
    return [path]


def read_sdf(path: Path, log: SkipLog | None = None) -> list[Molecule]:
    """Molecules with 3D coordinates from an SDF/MOL file or a folder of them.

    One policy for training data, samples and references alike: records are read as written
    (atoms, coordinates, charges, bonds), without RDKit sanitisation, so a record RDKit would
    reject is kept (and scores as invalid) instead of vanishing from one command only. Only
    records that cannot be parsed, or have no atoms or non-finite coordinates, are skipped,
    each with its reason in ``log``."""
    log = log or SkipLog()
    out: list[Molecule] = []
    RDLogger.DisableLog("rdApp.*")
    try:
        for file in _files(path, (".sdf", ".mol", ".sd")):
            if file.stat().st_size == 0:
                log.skip(str(file), "empty file")
                continue
            # RDKit gets the open file, not its name: a name that is not UTF-8 cannot cross
            # into C++ as a string
            with open(file, "rb") as fh:
                records = list(Chem.ForwardSDMolSupplier(fh, removeHs=False, sanitize=False))
            for k, mol in enumerate(records):
                where = f"{file.name} record {k + 1}"
                if mol is None:
                    log.skip(where, "RDKit could not parse it")
                    continue
                if mol.GetNumConformers() == 0 or mol.GetNumAtoms() == 0:
                    log.skip(where, "no atoms/coordinates")
                    continue
                try:
                    name = mol.GetProp("_Name") or where
                except UnicodeDecodeError:  # a title line that is not UTF-8: not fatal
                    name = where
                found = Molecule.from_rdkit(mol, name=name)
                if not np.isfinite(found.positions).all():
                    log.skip(where, "NaN or infinite coordinates")
                    continue
                out.append(found)
    finally:
        RDLogger.EnableLog("rdApp.*")
    return out


def read_xyz(path: Path, log: SkipLog | None = None) -> list[Molecule]:
    """XYZ files (one or several frames each), or a folder of them. Bonds are unknown."""
    log = log or SkipLog()
    out: list[Molecule] = []
    for file in _files(path, (".xyz",)):
        lines = read_text(file).splitlines()
        if not any(line.strip() for line in lines):
            log.skip(str(file), "empty file")
            continue
        i, frame = 0, 0
        while i < len(lines):
            if not lines[i].strip():
                i += 1
                continue
            frame += 1
            where = f"{file.name} frame {frame}"
            try:
                n = int(lines[i].split()[0])
                body = lines[i + 2 : i + 2 + n]
                if len(body) < n:
                    raise ValueError(f"expected {n} atom lines, found {len(body)}")
                symbols = [_element(row.split()[0]) for row in body]
                pos = np.array([[float(v) for v in row.split()[1:4]] for row in body])
                if pos.shape != (n, 3) or not np.isfinite(pos).all():
                    raise ValueError("coordinates missing, NaN or infinite")
                out.append(Molecule(symbols, pos, name=lines[i + 1].strip() or where))
            except (ValueError, IndexError) as exc:
                log.skip(where, f"not valid XYZ ({error_text(exc)})")
                break
            i += 2 + n
    return out


ELEMENTS = tuple(Chem.GetPeriodicTable().GetElementSymbol(z) for z in range(1, 119))


def _element(token: str) -> str:
    """An element symbol from a symbol or atomic number, checked against the periodic table
    here: RDKit's own lookup prints a C++ stack trace to stderr for an unknown symbol."""
    if token.isdigit():
        if not 1 <= int(token) <= len(ELEMENTS):
            raise ValueError(f"no element with atomic number {token}")
        return ELEMENTS[int(token) - 1]
    sym = token[:1].upper() + token[1:].lower()
    if sym not in ELEMENTS:
        raise ValueError(f"unknown element {token[:12]!r}")
    return sym


def read_smiles(path: Path, column: str | None = None, log: SkipLog | None = None) -> list[str]:
    """SMILES strings from a .smi/.txt file (first token per line) or a CSV (``column``,
    default the first column named like 'smiles')."""
    log = log or SkipLog()
    path = Path(path)
    if not path.is_file():
        raise DomainError(f"{path}: file not found")
    if path.suffix.lower() == ".csv":
        try:
            reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
            fields = reader.fieldnames or []
            col = column or next((f for f in fields if f.strip().lower() == "smiles"), None)
            if col is None or col not in fields:
                raise DomainError(
                    f"{path}: no SMILES column (columns: {', '.join(map(repr, fields))}); "
                    "set data.params.smiles_column"
                )
            rows = [(r[col] or "").strip() for r in reader]  # a short row has no value
        except csv.Error as exc:
            raise DomainError(f"{path}: not a readable CSV file ({exc})") from None
    else:
        rows = [ln.split()[0] for ln in read_text(path).splitlines() if ln.strip()]
        if rows and rows[0].lower() == "smiles":
            rows = rows[1:]
    if not rows:
        raise DomainError(f"{path}: no SMILES found (empty file)")
    return rows


# ---- writers ----------------------------------------------------------------------------


def write_sdf(mols: list[Molecule], path: Path) -> Path:
    """A multi-molecule SDF with 3D coordinates and bonds (kekulized, V2000)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = Chem.SDWriter(str(path))
    writer.SetKekulize(False)
    try:
        for k, m in enumerate(mols):
            rd = kekulized(m.to_rdkit())
            rd.UpdatePropertyCache(strict=False)  # unsanitisable samples are written too
            rd.SetProp("_Name", m.name or f"sample_{k}")
            for key, value in m.props.items():
                rd.SetProp(key, str(value))
            writer.write(rd)
    finally:
        writer.close()
    return path


def write_xyz(mols: list[Molecule], path: Path) -> Path:
    """All molecules as consecutive frames of one XYZ file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    for k, m in enumerate(mols):
        lines += [str(m.num_atoms), m.name or f"sample_{k}"]
        lines += [
            f"{s:<2} {x:12.6f} {y:12.6f} {z:12.6f}" for s, (x, y, z) in zip(m.symbols, m.positions)
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_smiles_csv(names: list[str], smiles: list[str | None], path: Path) -> Path:
    """name,smiles,valid (empty SMILES for invalid molecules)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "smiles", "valid"])
        for n, s in zip(names, smiles):
            w.writerow([n, s or "", int(s is not None)])
    return path


def write_png_grid(smiles: list[str | None], path: Path, per_row: int = 6, limit: int = 36) -> Path:
    """2D depictions of the (valid) molecules in a grid image."""
    from rdkit.Chem import Draw

    mols = [Chem.MolFromSmiles(s) for s in smiles if s][:limit]
    mols = [m for m in mols if m is not None] or [Chem.Mol()]
    img = Draw.MolsToGridImage(mols, molsPerRow=per_row, subImgSize=(200, 200))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(str(path))
    return path
