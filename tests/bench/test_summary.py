"""The results summary picks, per training method, the best ok cell by the quality metric."""

from multigen.bench.tables import best_cells, summary_table


def cell(method, variant, nfe, value, status="ok"):
    return {
        "domain": "toy",
        "train_method": method,
        "variant": variant,
        "nfe": nfe,
        "status": status,
        "metrics": {"energy_distance": value},
        "samples_per_s": 10.0,
        "train": {"seconds": 2.0},
    }


def test_best_cell_per_method_respects_direction_status_and_ties():
    cells = [
        cell("ddpm", "ddpm_ancestral", 8, 0.30),
        cell("ddpm", "ddim", 4, 0.10),
        cell("ddpm", "ddim", 16, 0.10),  # tie: the smaller NFE wins
        cell("ddpm", "ddim", 32, 0.01, status="failed"),
        cell("gan", "gan", 1, float("nan")),
        cell("flow", "flow", 8, 0.50),
    ]
    best = best_cells(cells, "energy_distance", "lower")
    assert [(c["train_method"], c["variant"], c["nfe"]) for c in best] == [
        ("ddpm", "ddim", 4),
        ("flow", "flow", 8),
    ]
    best_high = best_cells(cells, "energy_distance", "higher")
    assert [(c["variant"], c["nfe"]) for c in best_high] == [("ddpm_ancestral", 8), ("flow", 8)]


def test_summary_table_rows_carry_the_data_floor():
    summary = {
        "quality_metric": {"toy": ["energy_distance", "lower"]},
        "cells": [cell("flow", "flow", 8, 0.5)],
        "data_rows": {"toy": {"metrics": {"energy_distance": 0.001}}},
    }
    headers, rows = summary_table(summary, ["toy"])
    assert rows == [
        ["toy", "energy_distance (lower better)", "0.001", "flow", "flow @ 8 NFE", "0.5", "10", "2"]
    ]
    assert len(headers) == len(rows[0])
