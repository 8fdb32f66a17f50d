"""Every shipped zoo card against its weights: the files hash as the manifest says, card.md is
card.json rendered, and the card's check values are what sampling + evaluate give now (small
N, seed 0; the tolerance is the card's own, from the spread over seed blocks at that N)."""

import json

import pytest

from multigen import api
from multigen.zoo import card as cards
from multigen.zoo import store
from multigen.zoo.scoring import check_card

SHIPPED = store.names()
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
