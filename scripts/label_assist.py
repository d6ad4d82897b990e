"""Correct pre-annotated masks by eye, one photo at a time, and save them as LabelMe files.

The worked real example of docs/retraining.md. A work folder holds one mask per photo
(``<id>.png``, with an undo history) and the picture to look at (``<id>_view.png``: the photo
and its classes side by side with a pixel grid). Photos are ``PHOTOS/<id>/<visit>/<view>.jpg``.

    A="python scripts/label_assist.py --work W --photos PHOTOS"
    $A start N0001 --pre PRE        # PRE: an 'autosalt infer --out' folder with masks/
    $A paint N0001 loss "100,80 300,80 300,200" --only hair
    $A split N0001 ["x,y ..."] --skin "x,y ..." --hair "x,y ..."
    $A cut N0001                    # GrabCut the backdrop away
    $A undo N0001
    $A save N0001 --labels data/real/labels/train

Classes by name: bg, skin, hair, loss, ignore (or their ids 0, 1, 2, 3, 255). Every edit
rewrites the view picture; look at it before the next edit. ``save`` writes
``LABELS/<id>/<visit>/<view>.json`` whose ``imagePath`` points at the photo, for
``autosalt import-annotations --format labelme``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from autosalt.annotations.assist import cut_out_head, labelling_view, paint_polygon, split_scalp_by_colour
from autosalt.annotations.labelme import mask_to_labelme
from autosalt.contract import CLASS_BACKGROUND, CLASS_HAIR, CLASS_IGNORE, CLASS_LOSS, CLASS_SKIN, scalp_pixels
from autosalt.fileio import read_photo, write_json_atomic, write_png_atomic

CLASS_BY_NAME = {"bg": CLASS_BACKGROUND, "background": CLASS_BACKGROUND, "skin": CLASS_SKIN,
                 "hair": CLASS_HAIR, "loss": CLASS_LOSS, "ignore": CLASS_IGNORE}


def class_id(name: str) -> int:
    if name.isdigit() and int(name) in CLASS_BY_NAME.values():
        return int(name)
    if name not in CLASS_BY_NAME:
        raise SystemExit(f"unknown class '{name}'; use one of {', '.join(CLASS_BY_NAME)}")
    return CLASS_BY_NAME[name]


def parse_points(text: str) -> list[tuple[float, float]]:
    try:
        return [(float(x), float(y)) for x, y in (pair.split(",") for pair in text.split())]
    except ValueError:
        raise SystemExit(f"points must be 'x,y x,y ...', got {text!r}") from None


def photo_path(photos: Path, photo_id: str) -> Path:
    found = sorted(path for path in (photos / photo_id).glob("*/*")
                   if path.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if len(found) != 1:
        raise SystemExit(f"{photos / photo_id}: expected one photo <visit>/<view>.jpg, found {len(found)}")
    return found[0]


class Workspace:
    """One work folder: current masks, their undo history and the view pictures."""

    def __init__(self, work: Path, photos: Path):
        self.work, self.photos = work, photos
        work.mkdir(parents=True, exist_ok=True)

    def mask_file(self, photo_id: str) -> Path:
        return self.work / f"{photo_id}.png"

    def load(self, photo_id: str) -> tuple[np.ndarray, np.ndarray]:
        if not self.mask_file(photo_id).exists():
            raise SystemExit(f"{photo_id}: not started; run 'start {photo_id} --pre ...' first")
        photo = read_photo(photo_path(self.photos, photo_id))
        return photo, cv2.imread(str(self.mask_file(photo_id)), cv2.IMREAD_UNCHANGED)

    def store(self, photo_id: str, photo: np.ndarray, mask: np.ndarray) -> None:
        history = self.work / f"{photo_id}.history"
        history.mkdir(exist_ok=True)
        if self.mask_file(photo_id).exists():
            step = len(list(history.glob("*.png")))
            os.replace(self.mask_file(photo_id), history / f"{step:03d}.png")
        write_png_atomic(self.mask_file(photo_id), mask)
        self.render(photo_id, photo, mask)

    def undo(self, photo_id: str) -> None:
        steps = sorted((self.work / f"{photo_id}.history").glob("*.png"))
        if not steps:
            raise SystemExit(f"{photo_id}: nothing to undo")
        os.replace(steps[-1], self.mask_file(photo_id))
        photo, mask = self.load(photo_id)
        self.render(photo_id, photo, mask)

    def render(self, photo_id: str, photo: np.ndarray, mask: np.ndarray) -> None:
        view = labelling_view(photo, mask)
        cv2.imwrite(str(self.work / f"{photo_id}_view.png"), cv2.cvtColor(view, cv2.COLOR_RGB2BGR))
        shares = {name: 100 * float((mask == cid).mean()) for name, cid in CLASS_BY_NAME.items()
                  if name != "background"}
        scalp = scalp_pixels(mask)
        percent = 100 * float((mask == CLASS_LOSS).sum()) / max(1, int(scalp.sum()))
        print(f"{photo_id}: {self.work / f'{photo_id}_view.png'}  loss {percent:.1f}% of scalp; "
              + ", ".join(f"{k} {v:.1f}%" for k, v in shares.items()))


def save(space: Workspace, photo_id: str, labels: Path) -> Path:
    photo, mask = space.load(photo_id)
    source = photo_path(space.photos, photo_id)
    visit, view = source.parent.name, source.stem
    target = labels / photo_id / visit / f"{view}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    relative = os.path.relpath(source.resolve(), target.parent.resolve())
    document = mask_to_labelme(mask, relative, photo.shape[:2])
    write_json_atomic(target, document)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="work folder (masks, history, views)")
    parser.add_argument("--photos", type=Path, required=True, help="PHOTOS/<id>/<visit>/<view>.jpg")
    steps = parser.add_subparsers(dest="step", required=True)
    start = steps.add_parser("start", help="begin from a pre-annotation (autosalt infer --out PRE)")
    start.add_argument("ids", nargs="+")
    start.add_argument("--pre", type=Path, required=True, help="infer output folder with masks/")
    paint = steps.add_parser("paint", help="set a polygon to a class")
    paint.add_argument("id")
    paint.add_argument("cls")
    paint.add_argument("points", help="'x,y x,y x,y ...' in pixels of the photo")
    paint.add_argument("--only", default=None, help="comma-separated classes that may change")
    split = steps.add_parser("split", help="re-split scalp into hair/loss by colour")
    split.add_argument("id")
    split.add_argument("points", nargs="?", default=None)
    split.add_argument("--skin", default=None, help="seed points on bare scalp skin: 'x,y x,y ...'")
    split.add_argument("--hair", default=None, help="seed points on hair: 'x,y x,y ...'")
    split.add_argument("--bias", type=float, default=0.0, help="> 0 more loss, < 0 more hair")
    cut = steps.add_parser("cut", help="GrabCut the backdrop out of the head classes")
    cut.add_argument("id")
    undo = steps.add_parser("undo", help="take the last edit back")
    undo.add_argument("id")
    show = steps.add_parser("show", help="re-render the view picture")
    show.add_argument("ids", nargs="+")
    save_step = steps.add_parser("save", help="write LabelMe JSON")
    save_step.add_argument("ids", nargs="+")
    save_step.add_argument("--labels", type=Path, required=True)
    args = parser.parse_args(argv)
    space = Workspace(args.work, args.photos)
    return run_step(space, args)


def run_step(space: Workspace, args: argparse.Namespace) -> int:
    if args.step == "start":
        for photo_id in args.ids:
            source = photo_path(space.photos, photo_id)
            pre = args.pre / "masks" / photo_id / source.parent.name / f"{source.stem}.png"
            mask = cv2.imread(str(pre), cv2.IMREAD_UNCHANGED)
            if mask is None:
                raise SystemExit(f"{pre}: no pre-annotation mask")
            space.store(photo_id, read_photo(source), mask)
    elif args.step == "undo":
        space.undo(args.id)
    elif args.step == "show":
        for photo_id in args.ids:
            space.render(photo_id, *space.load(photo_id))
    elif args.step == "save":
        for photo_id in args.ids:
            print(f"saved {save(space, photo_id, args.labels)}")
    else:
        photo, mask = space.load(args.id)
        if args.step == "paint":
            only = [class_id(name) for name in args.only.split(",")] if args.only else None
            mask = paint_polygon(mask, parse_points(args.points), class_id(args.cls), only)
        elif args.step == "split":
            region = parse_points(args.points) if args.points else None
            mask = split_scalp_by_colour(
                photo, mask, region, parse_points(args.skin) if args.skin else None,
                parse_points(args.hair) if args.hair else None, args.bias)
        else:
            mask = cut_out_head(photo, mask)
        space.store(args.id, photo, mask)
    return 0


if __name__ == "__main__":
    sys.exit(main())
