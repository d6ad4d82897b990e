"""The real-photo benchmark sets the labels' own rank agreement with the level beside the
model's, on the same photos only."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench_real import label_level_table  # noqa: E402


def test_label_level_table_puts_the_labels_rho_beside_the_models():
    rows = [{"id": f"N{k}", "view": "top", "level": k, "percent": 10.0 * (8 - k)} for k in range(2, 8)]
    rows.append({"id": "N9", "view": "top", "level": 7, "percent": None})      # not scored
    rows.append({"id": "N10", "view": "top", "level": 7, "percent": 50.0})     # not labeled
    labels = {f"N{k}": {"top": str(10.0 * k)} for k in range(2, 8)}
    labels["N9"] = {"top": "90"}
    table = label_level_table(rows, labels)
    top = next(line for line in table if line.startswith("| top "))
    assert top.startswith("| top | 6 | 1.00 [")
    assert "| -1.00 [" in top
    assert any(line.startswith("| all | 6 |") for line in table)
    assert not any(line.startswith("| left ") for line in table)
