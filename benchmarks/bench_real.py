"""Real photographs: does the view percent rise with the Norwood level, and do masks match labels?

    python benchmarks/bench_real.py [--model models/autosalt-default.pt] [--name release]
        [--real ../shared/real/norwood_dev] [--split data/real/norwood_split.json] [--part heldout]
        [--check DATASET] [--work DIR]

Scores the photos of one part of the split (default: the held-out part, never trained on)
with ``autosalt infer --allow-partial`` exactly as a user would, then reports

- per view and over all views: Spearman rho of the view percent against the Norwood level,
  with a 95% percentile-bootstrap interval over photos; the mean percent per level;
- the loss fraction the network gives pixels it calls haired (median; 0 on a perfect model);
- the share of photos flagged for review, surface-fit failures (pixel fallback), the photos
  carrying each quality code per view, and the time per photo;
- with ``--check``, a labeled-data folder of held-out photos (contract section 3, e.g. made
  by ``import-annotations`` from ``data/real/labels/check``): hair-loss and scalp IoU against
  the labels, the view-percent MAE (labels scored by ``score-masks``, same method), and the
  loss fraction on truly haired pixels;
- a montage of the photos whose percent disagrees most with their level (rank difference
  within the view) and, with ``--check``, those with the worst hair-loss IoU:
  ``docs/images/real_worst_<name>.png``. Look at it every time.

Norwood levels are pattern baldness, not alopecia areata, and a level is not a SALT value:
the rank agreement says whether the model reads real hair and real bald skin, not what its
clinical accuracy is. Writes the ``real_<name>`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402
from bench_flags import auroc  # noqa: E402

from autosalt.config import QualityConfig  # noqa: E402
from autosalt.contract import CLASS_HAIR, CLASS_IGNORE, CLASS_LOSS, VIEWS, scalp_pixels  # noqa: E402
from autosalt.fileio import read_loss_map, read_mask, read_photo, write_png_atomic  # noqa: E402
from autosalt.postprocess.score_masks import score_masks  # noqa: E402
from autosalt.tablefile import read_table_rows  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
#: Where the real photos lie beside a checkout (data/real/README.md).
DEFAULT_REAL = REPO.parent / "shared" / "real" / "norwood_dev"
RESAMPLES, SEED = 2000, 0


def bootstrap_spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Spearman rho and its 95% percentile-bootstrap interval over pairs (seeded)."""
    rho = float(stats.spearmanr(x, y).statistic)
    rng = np.random.default_rng(SEED)
    values = []
    for _ in range(RESAMPLES):
        index = rng.integers(0, len(x), len(x))
        if np.ptp(x[index]) > 0 and np.ptp(y[index]) > 0:
            values.append(stats.spearmanr(x[index], y[index]).statistic)
    low, high = np.percentile(values, [2.5, 97.5])
    return rho, float(low), float(high)


def part_photos(real: Path, split: Path, part: str, work: Path) -> Path:
    """A photo folder holding copies of the photos of ``part`` only (scoring follows no links)."""
    ids = json.loads(split.read_text())[part]
    photos = work / "photos"
    for photo_id in ids:
        for source in (real / "photos" / photo_id).glob("*/*"):
            target = photos / source.relative_to(real / "photos")
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
    return photos


def read_levels(real: Path) -> dict[str, tuple[str, int]]:
    with open(real / "levels.csv", newline="", encoding="utf-8") as handle:
        return {row["patient"]: (row["view"], int(row["norwood_level"]))
                for row in csv.DictReader(handle) if row["norwood_level"]}


def view_codes(row: dict, view: str) -> set[str]:
    """The quality codes a score-table row gives one view (``quality_<view>``, ``;``-separated)."""
    return {code for code in row.get(f"quality_{view}", "").split(";") if code}


def photo_rows(out: Path, levels: dict) -> list[dict]:
    """One dict per scored photo: id, view, level, percent, quality codes, flagged (a review
    code), surface failure, haired loss."""
    rows = []
    review = set(QualityConfig().review_codes)
    for row in read_table_rows(out / "scores.csv"):
        photo_id = row["patient"]
        if photo_id not in levels:
            continue
        view, level = levels[photo_id]
        if row[view] == "":
            rows.append({"id": photo_id, "view": view, "level": level, "percent": None})
            continue
        mask = read_mask(out / "masks" / photo_id / row["visit"] / f"{view}.png")
        loss = read_loss_map(out / "loss" / photo_id / row["visit"] / f"{view}.png")
        haired = loss[mask == CLASS_HAIR]
        codes = view_codes(row, view)
        rows.append({"id": photo_id, "visit": row["visit"], "view": view, "level": level,
                     "percent": float(row[view]), "codes": codes,
                     "flagged": bool(codes & review),
                     "surface_failed": "surface_fit" in codes,
                     "haired_loss": float(np.median(haired)) if haired.size else None})
    return rows


def level_table(rows: list[dict]) -> list[str]:
    lines = ["| view | n | Spearman rho [95% CI] | " + " | ".join(f"level {k}" for k in range(2, 8))
             + " | median loss fraction on pixels called haired |",
             "|---" * 10 + "|"]
    for view in (*VIEWS, "all"):
        chosen = [r for r in rows if r["percent"] is not None and view in (r["view"], "all")]
        if len(chosen) < 4:
            continue
        x = np.array([r["level"] for r in chosen], float)
        y = np.array([r["percent"] for r in chosen], float)
        rho, low, high = bootstrap_spearman(x, y)
        means = [np.mean([r["percent"] for r in chosen if r["level"] == k]) if any(
            r["level"] == k for r in chosen) else float("nan") for k in range(2, 8)]
        haired = [r["haired_loss"] for r in chosen if r["haired_loss"] is not None]
        lines.append(f"| {view} | {len(chosen)} | {rho:.2f} [{low:.2f}, {high:.2f}] | "
                     + " | ".join(f"{m:.1f}" for m in means) + f" | {np.median(haired):.2f} |")
    return lines


#: A view-percent error (points) a quality code should pick out on the labeled photos.
LARGE_VIEW_ERROR = 10.0


def label_rows(check: Path) -> dict[str, dict]:
    """The labeled folder's view percents, by photo id (its masks scored by ``score-masks``)."""
    return {row["patient"]: row for row in score_masks(check, allow_partial=True, progress=False)}


def check_metrics(out: Path, check: Path, reference_rows: dict[str, dict] | None = None
                  ) -> tuple[list[str], list[dict]]:
    """Masks and view percents of the scored photos against a labeled folder of the same ids;
    ``reference_rows``: :func:`label_rows` of ``check``, where the caller has them already."""
    if reference_rows is None:
        reference_rows = label_rows(check)
    predicted_rows = {row["patient"]: row for row in read_table_rows(out / "scores.csv")}
    per_photo = []
    for mask_path in sorted((check / "masks").glob("*/*/*.png")):
        photo_id, visit, view = mask_path.parts[-3], mask_path.parts[-2], mask_path.stem
        predicted_path = out / "masks" / photo_id / visit / f"{view}.png"
        if not predicted_path.exists():
            continue
        reference, predicted = read_mask(mask_path), read_mask(predicted_path)
        loss_map = read_loss_map(out / "loss" / photo_id / visit / f"{view}.png")
        valid = reference != CLASS_IGNORE
        per_photo.append({
            "id": photo_id, "visit": visit, "view": view,
            "loss_iou": _iou(reference == CLASS_LOSS, predicted == CLASS_LOSS, valid),
            "scalp_iou": _iou(scalp_pixels(reference), scalp_pixels(predicted), valid),
            "haired_loss": loss_map[reference == CLASS_HAIR],
            "percent_error": _percent_error(reference_rows.get(photo_id), predicted_rows.get(photo_id),
                                            view),
            "codes": view_codes(predicted_rows.get(photo_id, {}), view)})
    loss_ious = [p["loss_iou"] for p in per_photo if p["loss_iou"] is not None]
    errors = [p["percent_error"] for p in per_photo if p["percent_error"] is not None]
    haired = np.concatenate([p["haired_loss"] for p in per_photo]) if per_photo else np.zeros(0)
    lines = ["| photos | hair-loss IoU (pooled / mean per photo) | scalp IoU (mean) | view-percent MAE "
             "| median loss fraction on labeled-haired pixels |", "|---|---|---|---|---|",
             f"| {len(per_photo)} | {_pooled(out, check, per_photo):.3f} / {np.mean(loss_ious):.3f} | "
             f"{np.mean([p['scalp_iou'] for p in per_photo]):.3f} | "
             f"{np.mean(errors):.2f} (n={len(errors)}) | "
             f"{np.median(haired):.3f} |"]
    return lines + ["", *check_code_table(per_photo)], per_photo


def label_level_table(rows: list[dict], reference_rows: dict[str, dict]) -> list[str]:
    """Spearman rho against the level of the labels' own view percents beside the model's, on
    the same labeled photos: a model that matched its labels exactly would reach the first."""
    lines = ["| view | n | labels: rho [95% CI] | model: rho [95% CI] |", "|---|---|---|---|"]
    paired = [(r, float(reference_rows[r["id"]][r["view"]])) for r in rows
              if r["percent"] is not None and r["id"] in reference_rows
              and reference_rows[r["id"]].get(r["view"]) not in (None, "")]
    for view in (*VIEWS, "all"):
        chosen = [(r, label) for r, label in paired if view in (r["view"], "all")]
        if len(chosen) < 4:
            continue
        level = np.array([r["level"] for r, _ in chosen], float)
        cells = [bootstrap_spearman(level, np.array(values, float)) for values in
                 ([label for _, label in chosen], [r["percent"] for r, _ in chosen])]
        lines.append(f"| {view} | {len(chosen)} | "
                     + " | ".join(f"{rho:.2f} [{low:.2f}, {high:.2f}]" for rho, low, high in cells)
                     + " |")
    return lines


def check_code_table(per_photo: list[dict]) -> list[str]:
    """Per quality code on the labeled photos: how many carry it, the view-percent MAE with
    and without it, and its AUROC for an error over LARGE_VIEW_ERROR points."""
    scored = [p for p in per_photo if p["percent_error"] is not None]
    errors = np.array([p["percent_error"] for p in scored])
    large = errors > LARGE_VIEW_ERROR
    review = set(QualityConfig().review_codes)
    lines = [f"Quality codes on the labeled photos ({int(large.sum())} of {len(scored)} with a "
             f"view-percent error over {LARGE_VIEW_ERROR:g}):", "",
             "| code | photos with it | view MAE with | view MAE without | AUROC for error > "
             f"{LARGE_VIEW_ERROR:g} |", "|---|---|---|---|---|"]
    flagged = ("flagged for review", [bool(p["codes"] & review) for p in scored])
    for label, has in [flagged] + [(f"`{code}` ({'review' if code in review else 'note'})",
                                    [code in p["codes"] for p in scored])
                                   for code in sorted({c for p in scored for c in p["codes"]})]:
        area = auroc([float(h) for h in has], list(large))
        has = np.array(has, dtype=bool)
        with_it = f"{errors[has].mean():.2f}" if has.any() else "-"
        without = f"{errors[~has].mean():.2f}" if (~has).any() else "-"
        lines.append(f"| {label} | {int(has.sum())} | {with_it} | {without} | "
                     f"{'-' if area is None else f'{area:.2f}'} |")
    return lines


def _iou(reference: np.ndarray, predicted: np.ndarray, valid: np.ndarray) -> float | None:
    union = ((reference | predicted) & valid).sum()
    return None if union == 0 else float(((reference & predicted) & valid).sum() / union)


def _pooled(out: Path, check: Path, per_photo: list[dict]) -> float:
    """Hair-loss IoU over all labeled pixels together (photos with much loss weigh more)."""
    inter = union = 0
    for p in per_photo:
        reference = read_mask(check / "masks" / p["id"] / p["visit"] / f"{p['view']}.png")
        predicted = read_mask(out / "masks" / p["id"] / p["visit"] / f"{p['view']}.png")
        valid = reference != CLASS_IGNORE
        inter += ((reference == CLASS_LOSS) & (predicted == CLASS_LOSS) & valid).sum()
        union += (((reference == CLASS_LOSS) | (predicted == CLASS_LOSS)) & valid).sum()
    return float(inter / max(union, 1))


def _percent_error(reference: dict | None, predicted: dict | None, view: str) -> float | None:
    if not reference or not predicted or reference.get(view, "") in ("", None) or predicted[view] == "":
        return None
    return abs(float(predicted[view]) - float(reference[view]))


def montage(out: Path, tiles: list[tuple[Path, str]], target: Path, size: int = 240) -> None:
    """Overlays in a grid of six columns, each with a caption band."""
    images = []
    for overlay, caption in tiles:
        image = cv2.resize(read_photo(overlay), (size, size), interpolation=cv2.INTER_AREA)
        band = np.full((22, size, 3), 255, np.uint8)
        cv2.putText(band, caption, (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (20, 20, 20), 1, cv2.LINE_AA)
        images.append(np.concatenate([band, image], axis=0))
    while len(images) % 6:
        images.append(np.full_like(images[0], 255))
    grid = np.concatenate([np.concatenate(images[i:i + 6], axis=1) for i in range(0, len(images), 6)], axis=0)
    write_png_atomic(target, grid)


def worst_by_rank(rows: list[dict], count: int) -> list[dict]:
    """Photos whose percent rank (within their view) is furthest from their level rank."""
    scored = []
    for view in VIEWS:
        chosen = [r for r in rows if r["view"] == view and r["percent"] is not None]
        if len(chosen) < 2:
            continue
        level_rank = stats.rankdata([r["level"] for r in chosen]) / len(chosen)
        percent_rank = stats.rankdata([r["percent"] for r in chosen]) / len(chosen)
        scored += [(abs(a - b), r) for a, b, r in zip(level_rank, percent_rank, chosen)]
    return [r for _, r in sorted(scored, key=lambda item: -item[0])[:count]]


def code_table(rows: list[dict]) -> list[str]:
    """Photos carrying each quality code on their view, per view."""
    views = [view for view in VIEWS if any(r["view"] == view for r in rows)]
    review = set(QualityConfig().review_codes)
    lines = ["| quality code | " + " | ".join(f"{view} ({sum(r['view'] == view for r in rows)})"
                                             for view in views) + " |",
             "|---" * (len(views) + 1) + "|"]
    for code in sorted({code for r in rows for code in r["codes"]}):
        kind = "review" if code in review else "note"
        lines.append(f"| `{code}` ({kind}) | " + " | ".join(
            str(sum(code in r["codes"] for r in rows if r["view"] == view)) for view in views) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=REPO / "models" / "autosalt-default.pt")
    parser.add_argument("--name", default="release", help="section and montage name")
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL)
    parser.add_argument("--split", type=Path, default=REPO / "data" / "real" / "norwood_split.json")
    parser.add_argument("--part", default="heldout", choices=("heldout", "train"))
    parser.add_argument("--check", type=Path, default=None, help="labeled-data folder of held-out photos")
    parser.add_argument("--work", type=Path, default=None, help="keep the scored output here")
    parser.add_argument("--no-section", action="store_true", help="print only; leave docs/benchmarks.md")
    parser.add_argument("--infer-args", default="",
                        help="further options of `autosalt infer`, e.g. '--no-tta' (said in the section)")
    args = parser.parse_args()
    if not (args.real / "levels.csv").exists():
        sys.exit(f"{args.real}: no levels.csv; point --real at shared/real/norwood_dev")
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_real_"))
    photos = part_photos(args.real, args.split, args.part, work)
    out = work / f"infer_{args.name}"
    if not (out / "scores.csv").exists():
        subprocess.run([str(Path(sys.executable).parent / "autosalt"), "infer", str(photos),
                        "--out", str(out), "--model", str(args.model), "--allow-partial", "--quiet",
                        *shlex.split(args.infer_args)],
                       check=True)
    report(args, out)


def report(args: argparse.Namespace, out: Path) -> None:
    rows = photo_rows(out, read_levels(args.real))
    timing = json.loads((out / "run.json").read_text())["timing"]
    scored = [r for r in rows if r["percent"] is not None]
    how = (f"`autosalt infer --allow-partial {args.infer_args}`, its other options at their defaults"
           if args.infer_args else "`autosalt infer --allow-partial` with its defaults")
    lines = [f"Model `{args.model.name}`; part `{args.part}` of `{args.split.name}` ({len(rows)} photos, "
             f"{len(scored)} scored); {how}. {machine()}.", "",
             *level_table(rows), "",
             "Photos flagged for review (a review code on their view): "
             f"{sum(r['flagged'] for r in scored)} of "
             f"{len(scored)}; surface fit failed (pixel fallback): "
             f"{sum(r['surface_failed'] for r in scored)}; "
             f"{timing['seconds_per_scored_visit']:.2f} s per photo.", "", *code_table(scored)]
    tiles = [(out / "overlays" / r["id"] / r["visit"] / f"{r['view']}.jpg",
              f"{r['id']} {r['view']} level {r['level']}: {r['percent']:.0f}%")
             for r in worst_by_rank(scored, 12)]
    if args.check:
        reference_rows = label_rows(args.check)
        check_lines, per_photo = check_metrics(out, args.check, reference_rows)
        lines += ["", f"Against the labeled check set `{args.check}`:", "", *check_lines, "",
                  "Rank agreement with the level of the hand labels' own view percents, beside "
                  "the model's on the same photos (a model that reproduced its labels exactly "
                  "would score the labels' column):", "",
                  *label_level_table(rows, reference_rows)]
        worst = sorted((p for p in per_photo if p["loss_iou"] is not None), key=lambda p: p["loss_iou"])[:6]
        tiles += [(out / "overlays" / p["id"] / p["visit"] / f"{p['view']}.jpg",
                   f"{p['id']} {p['view']} loss IoU {p['loss_iou']:.2f}") for p in worst]
    target = REPO / "docs" / "images" / f"real_worst_{args.name}.png"
    montage(out, tiles, target)
    lines += ["", "Worst photos (rank against level; then worst hair-loss IoU): "
              f"`docs/images/{target.name}`."]
    body = "\n".join(lines)
    print(body)
    if not args.no_section:
        check = f" --check {args.check}" if args.check else ""
        extra = f" --infer-args '{args.infer_args}'" if args.infer_args else ""
        write_section(f"real_{args.name}", f"## Real photos (norwood_dev): {args.name}\n\n"
                      "Command: `python benchmarks/bench_real.py "
                      f"--model {args.model.name} --name {args.name}"
                      f"{check}{extra}`\n\n{body}")


if __name__ == "__main__":
    main()
