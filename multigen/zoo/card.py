"""Model cards: ``card.json`` holds the facts, ``card.md`` is rendered from it (never edited
by hand, so the two cannot drift; a test re-renders every shipped card)."""

from __future__ import annotations

from typing import Any


def _num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "–" if v is None else str(v)


def _minutes(seconds: float | None) -> str:
    return "unknown" if seconds is None else f"{seconds / 60:.1f} min"


def render(card: dict[str, Any]) -> str:
    """``card.md`` for ``card``."""
    ds, net, tr, smp, ev = (
        card[k] for k in ("dataset", "network", "training", "sampling", "evaluation")
    )
    w, chk = card["weights"], card["check"]
    lines = [
        f"# {card['name']}: {card['title']}",
        "",
        card["summary"],
        "",
        f"`multigen sample zoo:{card['name']} --n 64 --out samples/` draws 64 samples;",
        f"`multigen evaluate --run zoo:{card['name']} --n {ev['n']}` re-scores it.",
        "",
        "| | |",
        "|---|---|",
        f"| domain | {card['domain']} |",
        f"| data set | {ds['name']}{' ' + str(ds['params']) if ds['params'] else ''} — "
        f"trained on split `{ds['train_split']}`, "
        f"scored against {ds['reference']} |",
        f"| method | {card['method']} {card['method_config']} |",
        f"| network | {net['name']} {net['params'] or ''}: {net['parameters']:,} parameters "
        f"(shipped: {', '.join(net['shipped'])}) |",
        f"| training | {tr['steps']:,} steps, batch {tr['batch_size']}, lr {tr['lr']}, "
        f"EMA {tr['ema_decay']}, {tr['precision']}; {_minutes(tr['wall_clock_s'])} on "
        f"{tr['machine']} |",
        f"| weights | EMA, {w['dtype']} ({w['bytes'] / 1e6:.2f} MB); {w['decision']} |",
        (
            "| sampler | one generator pass (1 NFE)"
            if smp["sampler"] == "generator"
            else f"| sampler | {smp['sampler']}, {smp['steps']} steps = {smp['nfe']} NFE"
        )
        + (f", guidance {smp['guidance']}" if smp.get("guidance") not in (None, 1.0) else "")
        + "".join(f", {k} {v}" for k, v in smp.get("options", {}).items())
        + f", seed {smp['seed']} |",
        "",
        f"## Quality ({ev['n']} samples vs {ev['n']} reference items)",
        "",
        f"The data floor scores real data ({ev['floor_split']}) against the same reference "
        "the same way: no model is expected to beat it. The check column is what "
        f"`tests/test_zoo_cards.py` re-measures from the weights: {chk['n']} samples "
        f"(seed {chk['seed']}), tolerance {chk['spread_factor']:g} × the standard deviation "
        f"over {chk['blocks']} seed blocks of that size, at least {chk['min_rel']:.0%} of the "
        "value.",
        "",
        f"| metric | this model | data floor | check at n={chk['n']} | data floor at "
        f"n={chk['n']} |",
        "|---|---|---|---|---|",
    ]
    for k, v in ev["metrics"].items():
        mark = " (headline)" if k == ev["headline"] else ""
        check = chk["metrics"].get(k)
        tol = chk["tolerance"].get(k)
        shown = "–" if check is None else f"{_num(check)} ± {tol:.2g}"
        lines.append(
            f"| {k}{mark} | {_num(v)} | {_num(ev['floor'].get(k))} | {shown} "
            f"| {_num(chk['floor'].get(k))} |"
        )
    lines.append("")
    anchor = card.get("anchor")
    lines += [
        f"Published anchor ({anchor['label']}): {anchor['text']}"
        if anchor
        else "Published anchor: none on this data set.",
        "",
        "## Reproduce",
        "",
        "```bash",
        card["retrain"],
        "```",
    ]
    if card.get("notes"):
        lines += ["", "## Notes", "", card["notes"]]
    return "\n".join(lines) + "\n"
