"""Chemistry tables shared by the decoder and the metrics.

Bond lengths (pm) and margins follow EDM (Hoogeboom et al. 2022, ``qm9/bond_analyze.py``):
a pair is bonded with order k when its distance is below ``table_k + margin_k``; margins
10/5/3 pm were tuned there to maximise the stability of real QM9 molecules.
"""

from __future__ import annotations

# Network scale of the state (EDM normalisation: positions /1, one-hot /4, charges /10).
POS_SCALE = 1.0
ONEHOT_SCALE = 4.0
CHARGE_SCALE = 10.0

MARGINS_PM = (10.0, 5.0, 3.0)

_BONDS1_HALF = {
    "H": {
        "H": 74,
        "C": 109,
        "N": 101,
        "O": 96,
        "F": 92,
        "B": 119,
        "Si": 148,
        "P": 144,
        "As": 152,
        "S": 134,
        "Cl": 127,
        "Br": 141,
        "I": 161,
    },
    "C": {
        "C": 154,
        "N": 147,
        "O": 143,
        "F": 135,
        "Si": 185,
        "P": 184,
        "S": 182,
        "Cl": 177,
        "Br": 194,
        "I": 214,
    },
    "N": {"N": 145, "O": 140, "F": 136, "Cl": 175, "Br": 214, "S": 168, "I": 222, "P": 177},
    "O": {"O": 148, "F": 142, "Br": 172, "S": 151, "P": 163, "Si": 163, "Cl": 164, "I": 194},
    "F": {"F": 142, "S": 158, "Si": 160, "Cl": 166, "Br": 178, "P": 156, "I": 187},
    "B": {"Cl": 175},
    "Si": {"Si": 233, "S": 200, "Cl": 202, "Br": 215, "I": 243},
    "Cl": {"Cl": 199, "P": 203, "S": 207, "Br": 214},
    "S": {"S": 204, "Br": 225, "P": 210, "I": 234},
    "Br": {"Br": 228, "P": 222},
    "P": {"P": 221},
    "I": {"I": 266},
}
_BONDS2_HALF = {
    "C": {"C": 134, "N": 129, "O": 120, "S": 160},
    "N": {"N": 125, "O": 121},
    "O": {"O": 121, "P": 150},
    "P": {"S": 186},
}
_BONDS3_HALF = {"C": {"C": 120, "N": 116, "O": 113}, "N": {"N": 110}}


def _symmetric(half: dict[str, dict[str, int]]) -> dict[tuple[str, str], float]:
    table: dict[tuple[str, str], float] = {}
    for a, row in half.items():
        for b, v in row.items():
            table[(a, b)] = table[(b, a)] = float(v)
    return table


BOND_LENGTHS_PM = (_symmetric(_BONDS1_HALF), _symmetric(_BONDS2_HALF), _symmetric(_BONDS3_HALF))

# EDM's allowed valences (neutral atoms): the sum of bond orders must equal one of these.
ALLOWED_VALENCE: dict[str, tuple[int, ...]] = {
    "H": (1,),
    "C": (4,),
    "N": (3,),
    "O": (2,),
    "F": (1,),
    "B": (3,),
    "Al": (3,),
    "Si": (4,),
    "P": (3, 5),
    "S": (4,),
    "Cl": (1,),
    "As": (3,),
    "Br": (1,),
    "I": (1,),
    "Hg": (1, 2),
    "Bi": (3, 5),
}
# Note: EDM lists S as 4 only (not 2/6); kept as published so numbers stay comparable. This
# one table (EDM's ``allowed_bonds`` in ``qm9/analyze.py``) is what EDM's and GeoLDM's
# GEOM-Drugs protocol uses as well, so drug-like sets (moses3d) are scored with it too.

# Charge-aware variant (MiDi-style): valences allowed for a given formal charge.
CHARGED_VALENCE: dict[str, dict[int, tuple[int, ...]]] = {
    "H": {0: (1,), 1: (0,), -1: (0,)},
    "C": {0: (4,), 1: (3,), -1: (3,)},
    "N": {0: (3,), 1: (4,), -1: (2,)},
    "O": {0: (2,), 1: (3,), -1: (1,)},
    "F": {0: (1,), -1: (0,)},
    "B": {0: (3,), -1: (4,)},
    "Si": {0: (4,)},
    "P": {0: (3, 5), 1: (4,)},
    "S": {0: (2, 4, 6), 1: (3,), -1: (1,)},
    "Cl": {0: (1,), -1: (0,)},
    "Br": {0: (1,), -1: (0,)},
    "I": {0: (1,), -1: (0,)},
}

# The 19 QM9 targets in the column order of gdb9.sdf.csv. The file's units are Debye, Bohr^3,
# Hartree, Bohr^2, cal/mol/K, GHz; readers convert to QM9_UNITS below (the *_atom columns,
# absent from qm9pack, stay as in the file).
QM9_PROPERTIES = (
    "A",
    "B",
    "C",
    "mu",
    "alpha",
    "homo",
    "lumo",
    "gap",
    "r2",
    "zpve",
    "u0",
    "u298",
    "h298",
    "g298",
    "cv",
    "u0_atom",
    "u298_atom",
    "h298_atom",
    "g298_atom",
)
# Units of EDM's tables (Cormorant's QM9 processing: energies Hartree -> eV with this factor;
# EDM's Table 3 gives HOMO/LUMO/gap in meV). Both QM9 routes convert to these on reading.
HARTREE_EV = 27.211386246
HARTREE_MEV = 1000.0 * HARTREE_EV
QM9_TO_EDM_UNITS = {
    "homo": HARTREE_MEV,
    "lumo": HARTREE_MEV,
    "gap": HARTREE_MEV,
    "zpve": HARTREE_EV,
    "u0": HARTREE_EV,
    "u298": HARTREE_EV,
    "h298": HARTREE_EV,
    "g298": HARTREE_EV,
}
QM9_UNITS = {
    "A": "GHz",
    "B": "GHz",
    "C": "GHz",
    "mu": "D",
    "alpha": "Bohr^3",
    "homo": "meV",
    "lumo": "meV",
    "gap": "meV",
    "r2": "Bohr^2",
    "zpve": "eV",
    "u0": "eV",
    "u298": "eV",
    "h298": "eV",
    "g298": "eV",
    "cv": "cal/(mol K)",
}
# RDKit-computed properties usable for conditioning on any dataset.
RDKIT_PROPERTIES = ("qed", "logp", "mw")
