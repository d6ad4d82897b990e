"""Annotation round trips: masks -> LabelMe / COCO -> ``import-annotations`` -> the same masks?

    python benchmarks/bench_annotations.py [--patients 20] [--visits 2] [--seed 3100] [--size 384]

Renders synthetic visits (exact masks), writes every mask as a LabelMe file (polygons with
holes), as one COCO file of polygons and as one of RLE, imports each with the project's own
importer, and compares the imported masks with the originals by ``evaluate-masks`` (per-class
IoU over all pixels) plus the agreement of the ``ignore`` pixels, which that metric leaves
out. A rater's corrections travel this path (docs/retraining.md), so anything it loses is
lost from their labels. Writes the ``annotations`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402

from autosalt.annotations.coco import mask_to_coco  # noqa: E402
from autosalt.annotations.importer import import_annotations  # noqa: E402
from autosalt.annotations.labelme import mask_to_labelme  # noqa: E402
from autosalt.contract import CLASS_IGNORE, CLASS_NAMES  # noqa: E402
from autosalt.evaluation.masks import evaluate_masks  # noqa: E402
from autosalt.fileio import read_mask, write_json_atomic  # noqa: E402
from autosalt.layout import scan_labeled_folder  # noqa: E402
from autosalt.synth.generate import SynthOptions, generate  # noqa: E402


def ignore_iou(reference_root: Path, imported_root: Path, keys: list[str]) -> float:
    intersection = union = 0
    for key in keys:
        reference = read_mask(reference_root / "masks" / f"{key}.png") == CLASS_IGNORE
        imported = read_mask(imported_root / "masks" / f"{key}.png") == CLASS_IGNORE
        intersection += int(np.sum(reference & imported))
        union += int(np.sum(reference | imported))
    return intersection / union if union else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--visits", type=int, default=2)
    parser.add_argument("--seed", type=int, default=3100)
    parser.add_argument("--size", type=int, default=384)
    args = parser.parse_args()
    where = machine()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        synthetic = work / "synthetic"
        generate(synthetic, args.patients, args.visits, args.seed,
                 SynthOptions(size=(args.size, args.size)), workers=2, progress=False)
        masks = {f"{visit.patient}/{visit.visit}/{view}": read_mask(path)
                 for visit in scan_labeled_folder(synthetic).visits for view, path in visit.views.items()}
        for key, mask in masks.items():
            target = work / "labelme" / f"{key}.json"
            photo = synthetic / "photos" / f"{key}.jpg"
            document = mask_to_labelme(mask, os.path.relpath(photo, target.parent), mask.shape)
            write_json_atomic(target, document)
        for encoding in ("polygon", "rle"):
            write_json_atomic(work / f"coco_{encoding}.json",
                              mask_to_coco([(f"{key}.jpg", mask) for key, mask in masks.items()], encoding))
        cases = {"LabelMe polygons": (work / "labelme", "labelme"),
                 "COCO polygons": (work / "coco_polygon.json", "coco"),
                 "COCO RLE": (work / "coco_rle.json", "coco")}
        for name, (source, format_name) in cases.items():
            out = work / f"imported_{name.replace(' ', '_')}"
            started = time.perf_counter()
            result = import_annotations(source, out, format_name, images_root=synthetic / "photos")
            seconds = time.perf_counter() - started
            metrics = evaluate_masks(out, synthetic)
            iou = [metrics["iou"][class_name] for class_name in CLASS_NAMES]
            rows.append(f"| {name} | {len(result.imported)} | {len(result.errors)} | "
                        + " | ".join("n/a" if value is None else f"{value:.4f}" for value in iou)
                        + f" | {ignore_iou(synthetic, out, list(masks)):.4f} | {seconds:.1f} |")
            print(rows[-1], flush=True)
    body = "\n".join([
        "## Annotation round trips (`benchmarks/bench_annotations.py`)", "",
        f"Machine: {where}. {args.patients * args.visits} synthetic visits ({len(masks)} masks, "
        f"{args.size}x{args.size}, seed {args.seed}): each mask written as LabelMe polygons, as COCO "
        "polygons and as COCO RLE, imported with `autosalt import-annotations`, and compared with "
        "the original by `evaluate-masks` (IoU per class over all pixels; the original's ignore "
        "pixels left out) and by the IoU of the ignore pixels themselves. Target: IoU >= 0.99 "
        "for every class.", "",
        "| format | masks imported | errors | " + " | ".join(f"IoU {n}" for n in CLASS_NAMES)
        + " | IoU ignore | import s |",
        "|---|---|---|" + "---|" * (len(CLASS_NAMES) + 2), *rows])
    write_section("annotations", body)
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
