"""Every shipped zoo card against its weights: the files hash as the manifest says, card.md is
card.json rendered, and the card's check values are what sampling + evaluate give now (small
N, seed 0; the tolerance is the card's own, from the spread over seed blocks at that N)."""

import json

import pytest

from multigen import api
from multigen.cli import main
from multigen.zoo import card as cards
from multigen.zoo import store
from multigen.zoo.scoring import check_card

SHIPPED = store.names()
MOLECULES = [n for n in SHIPPED if store.read_card(store.ZOO_DIR / n)["domain"] == "molecules"]
MAX_ZOO_MB = 30  # the budget for the whole zoo in the repository


def test_zoo_ships_entries_within_budget():
    assert SHIPPED, "no zoo entries shipped"
    size = sum(f.stat().st_size for f in store.ZOO_DIR.rglob("*") if f.is_file())
    assert size <= MAX_ZOO_MB * 1e6, f"zoo is {size / 1e6:.1f} MB"


@pytest.mark.parametrize("name", SHIPPED)
def test_card_is_rendered_from_its_json(name):
    folder = store.ZOO_DIR / name
    card = store.read_card(folder)  # hash-checks every file
    assert (folder / "card.md").read_text(encoding="utf-8") == cards.render(card)
    assert card["name"] == name
    for key in ("metrics", "floor"):
        assert card["evaluation"]["headline"] in card["evaluation"][key]


@pytest.mark.parametrize("name", SHIPPED)
def test_card_numbers_match_the_weights(name):
    run = api.load_run(f"zoo:{name}", device="cpu")
    card = json.loads((store.ZOO_DIR / name / "card.json").read_text(encoding="utf-8"))
    assert check_card(run, card) == []


@pytest.mark.parametrize("name", MOLECULES)
def test_molecule_entry_samples_to_sdf_and_xyz(name, tmp_path, capsys):
    """`multigen sample zoo:NAME --out DIR` writes 3-D molecules a chemistry tool reads back."""
    from rdkit import Chem

    out = tmp_path / "x"
    assert main(["sample", f"zoo:{name}", "--n", "4", "--steps", "4", "--out", str(out)]) == 0
    assert "4 samples" in capsys.readouterr().out
    sdf = list(Chem.SDMolSupplier(str(out / "samples.sdf"), removeHs=False, sanitize=False))
    assert len(sdf) == 4 and all(m is not None and m.GetConformer().Is3D() for m in sdf)
    frames, lines = 0, (out / "samples.xyz").read_text().splitlines()
    while frames < len(sdf):  # XYZ: atom count, comment, one line per atom, same molecules
        count = int(lines.pop(0))
        assert count == sdf[frames].GetNumAtoms()
        del lines[: count + 1]
        frames += 1
    assert frames == 4 and not lines
