"""``autosalt score-masks``: a labeled-data folder's masks -> the predicted-scores table.

Reads ``ROOT/masks/<patient>/<visit>/<view>.png`` and, where present, the matching
``ROOT/loss/...`` loss maps; checks each against ``ROOT/photos/...`` sizes; writes one row per
visit. A bad file makes its visit's row ``error`` (naming the file) and the batch goes on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

from autosalt.config import DEFAULT_REVIEW_CODES
from autosalt.contract import IMAGE_EXTENSIONS, STATUS_ERROR
from autosalt.fileio import InputError, read_loss_map, read_mask, write_csv_atomic
from autosalt.layout import Visit, companion_path, scan_labeled_folder
from autosalt.postprocess.scoring import PREDICTED_COLUMNS, score_row
from autosalt.postprocess.values import split_observations
from autosalt.postprocess.visit import DEFAULT_METHOD, METHODS, score_visit


def _photo_size(path: Path) -> tuple[int, int] | None:
    """(height, width) of a photo after EXIF rotation, read from its header only."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(0x0112, 1)
    except (OSError, SyntaxError, ValueError):
        return None
    return (width, height) if orientation in (5, 6, 7, 8) else (height, width)


def load_visit(root: Path, visit: Visit) -> tuple[dict, dict, dict, list[str]]:
    """Masks, loss maps (or None), file names and errors for one labeled visit."""
    masks, losses, names, errors = {}, {}, {}, list(visit.problems)
    for view, mask_path in visit.views.items():
        names[view] = str(mask_path)
        try:
            mask = read_mask(mask_path)
            loss_path = companion_path(root, "loss", mask_path, view)
            loss = read_loss_map(loss_path) if loss_path else None
            if loss is not None and loss.shape != mask.shape:
                raise InputError(f"{loss_path}: loss map is {loss.shape[1]}x{loss.shape[0]} but "
                                 f"the mask is {mask.shape[1]}x{mask.shape[0]}")
            photo_path = companion_path(root, "photos", mask_path, view, IMAGE_EXTENSIONS)
            if photo_path is not None:
                size = _photo_size(photo_path)
                if size is None:
                    raise InputError(f"{photo_path}: photo cannot be read")
                if size != mask.shape:
                    raise InputError(f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} but "
                                     f"the photo {photo_path.name} is {size[1]}x{size[0]}")
        except InputError as error:
            errors.append(str(error))
            continue
        masks[view], losses[view] = mask, loss
    return masks, losses, names, errors


def score_masks(root: str | Path, method: str = DEFAULT_METHOD, allow_partial: bool = False,
                progress: bool = True) -> list[dict]:
    """Score every visit of a labeled-data folder; one predicted-scores row per visit."""
    from tqdm import tqdm

    root = Path(root)
    scan = scan_labeled_folder(root)
    for reason in scan.skipped:
        print(f"skipped: {reason}", file=sys.stderr)
    rows = []
    for visit in tqdm(scan.visits, desc=f"score-masks ({method})", unit="visit",
                      disable=not progress):
        masks, losses, names, errors = load_visit(root, visit)
        result = score_visit(masks, losses, names, method) if masks and not errors else None
        values = result.values if result else {}
        flags, notes = split_observations(result.observations if result else [],
                                          DEFAULT_REVIEW_CODES)
        rows.append(score_row(visit.patient, visit.visit, values,
                              errors=errors + (result.errors if result else []),
                              flags=flags, notes=notes,
                              allow_partial=allow_partial, method=method))
    return rows


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", type=Path, help="labeled-data folder with masks/ (and loss/, photos/)")
    parser.add_argument("--out", type=Path, required=True, help="predicted-scores CSV to write")
    parser.add_argument("--method", choices=sorted(METHODS), default=DEFAULT_METHOD,
                        help="pixel: loss pixels over scalp pixels per photo; surface: on the "
                             f"head's surface (default: {DEFAULT_METHOD})")
    parser.add_argument("--allow-partial", action="store_true",
                        help="report visits with missing views: the views present and the SALT "
                             "range they allow (salt_min, salt_max; no SALT), flagged")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    rows = score_masks(args.root, args.method, args.allow_partial, progress=not args.quiet)
    write_csv_atomic(args.out, rows, PREDICTED_COLUMNS)
    errors = [row for row in rows if row["status"] == STATUS_ERROR]
    flagged = sum(row["status"] == "flagged" for row in rows)
    print(f"wrote {args.out}: {len(rows)} visits, {len(rows) - len(errors) - flagged} ok, "
          f"{flagged} flagged, {len(errors)} error")
    for row in errors:
        print(f"  error {row['patient']}/{row['visit']}: {row['flags']}", file=sys.stderr)
    return 1 if errors or not rows else 0
