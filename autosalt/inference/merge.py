"""``autosalt merge``: join the score tables of ``autosalt infer --shard K/N`` runs.

    autosalt merge results/shard-*/ --out results/all

Reads each shard's ``scores.csv`` (and ``scores.json`` where present), refuses a visit that
appears in two shards and shards scored by different models, and writes one ``scores.csv`` and
``scores.json`` sorted by patient and visit. Missing shards are reported by the count check
against each shard's ``run.json`` (``visits_in_shard``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from autosalt.contract import PREDICTED_REQUIRED, STATUS_ERROR
from autosalt.fileio import InputError, write_csv_atomic, write_json_atomic
from autosalt.tablefile import read_table_rows


def merge_shards(folders: list[Path]) -> tuple[list[str], list[dict], list[dict]]:
    """(columns, CSV rows, JSON rows) of all shards, sorted by (patient, visit)."""
    columns: list[str] | None = None
    rows: dict[tuple[str, str], dict] = {}
    json_rows: dict[tuple[str, str], dict] = {}
    origin: dict[tuple[str, str], Path] = {}
    models: dict[str, Path] = {}
    for folder in folders:
        table = folder / "scores.csv" if folder.is_dir() else folder
        shard_rows = read_table_rows(table, PREDICTED_REQUIRED)
        header = list(shard_rows[0]) if shard_rows else None
        if header is not None:
            if columns is None:
                columns = header
            elif header != columns:
                raise InputError(f"{table}: columns differ from the first shard's {columns}")
        run = folder / "run.json"
        if run.is_file():
            info = json.loads(run.read_text(encoding="utf-8"))
            expected = info.get("inputs", {}).get("visits_in_shard")
            if info.get("status") != "complete" or (expected is not None and expected != len(shard_rows)):
                raise InputError(f"{folder}: shard is not finished ({len(shard_rows)} of {expected} "
                                 "visits); rerun it with --resume before merging")
        for row in shard_rows:
            key = (row["patient"], row["visit"])
            if key in rows:
                raise InputError(f"{table}: visit {key[0]}/{key[1]} is also in {origin[key]}; "
                                 "shards must not overlap (same N for every job?)")
            model = row.get("model", "")
            models.setdefault(model, table)
            rows[key], origin[key] = row, table
        scores_json = folder / "scores.json"
        if scores_json.is_file():
            for row in json.loads(scores_json.read_text(encoding="utf-8"))["rows"]:
                json_rows[(row["patient"], row["visit"])] = row
    if len(models) > 1:
        raise InputError("shards were scored by different models: "
                         + ", ".join(f"{model or '?'} ({table})" for model, table in models.items()))
    keys = sorted(rows)
    return columns or [], [rows[key] for key in keys], [json_rows[key] for key in keys if key in json_rows]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shards", type=Path, nargs="+", help="output folders of 'infer --shard' runs "
                                                              "(or their scores.csv files)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the joined scores.csv/json")


def run(args: argparse.Namespace) -> int:
    try:
        columns, rows, json_rows = merge_shards(args.shards)
    except InputError as error:
        print(f"autosalt merge: error: {error}", file=sys.stderr)
        return 2
    write_csv_atomic(args.out / "scores.csv", rows, columns)
    if json_rows:
        write_json_atomic(args.out / "scores.json", {"columns": columns, "rows": json_rows})
    errors = sum(row["status"] == STATUS_ERROR for row in rows)
    print(f"wrote {args.out / 'scores.csv'}: {len(rows)} visits from {len(args.shards)} shards, "
          f"{errors} error")
    return 1 if errors or not rows else 0
