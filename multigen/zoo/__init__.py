"""Pretrained models shipped with multigen (the zoo): ``zoo:NAME`` wherever a run folder goes.

``store`` finds and loads entries (hash-checked), ``build`` makes one from a finished run,
``scoring`` measures what a card records, ``card`` renders ``card.md``, ``hub`` fetches
``hf:ORG/NAME``.
"""

from multigen.zoo.manifest import ZooError
from multigen.zoo.store import ZOO_DIR, entry_dir, is_reference, load_entry, names, read_card

__all__ = ["ZOO_DIR", "ZooError", "entry_dir", "is_reference", "load_entry", "names", "read_card"]
