"""What reading data dropped or assumed, said out loud: one record per skipped file or record
(set, file, reason) for any domain, and a run's report of it (console, log.jsonl and
``skipped_files.json`` in the run folder)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from multigen.domain import Domain
from multigen.fileio import atomic_write_text
from multigen.train.logger import RunLogger, say


def skipped_records(domain: Domain, sets: Iterable[tuple[str, Any]]) -> list[dict[str, str]]:
    """``[{"set", "file", "reason"}]`` over named data objects (``("samples", obj), ...``)."""
    return [
        {"set": which, "file": file, "reason": reason}
        for which, obj in sets
        for file, reason in domain.skipped_files(obj)
    ]


def report_data(
    domain: Domain, sets: list[tuple[str, Any]], run_dir: Path, logger: RunLogger, step: int
) -> None:
    """Say what the run's data dropped (with the reasons, all of them in skipped_files.json)
    and the datasets' notes (splits, assumptions); never silent."""
    skipped = skipped_records(domain, sets)
    notes = [str(n) for _, obj in sets for n in getattr(obj, "notes", None) or []]
    for note in notes:
        say(f"data: {note}")
    if skipped:
        reasons = Counter(s["reason"] for s in skipped)
        shown = "; ".join(f"{n} x {r}" for r, n in reasons.most_common(3))
        more = f"; {len(reasons) - 3} other reasons" if len(reasons) > 3 else ""
        say(
            f"data: skipped {len(skipped)} file(s)/record(s) ({shown}{more}); all of them "
            f"are listed in {run_dir / 'skipped_files.json'}"
        )
        atomic_write_text(run_dir / "skipped_files.json", json.dumps(skipped, indent=2))
    if skipped or notes:
        logger.log(step, {"data/skipped": len(skipped), "data/notes": notes})
