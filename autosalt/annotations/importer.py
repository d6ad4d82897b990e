"""``autosalt import-annotations``: LabelMe / CVAT / COCO annotations -> labeled-data folder.

    autosalt import-annotations --format labelme pre/annotations --out clinic_data
    autosalt import-annotations --format coco instances.json --images photos/ --out clinic_data
    autosalt import-annotations --format cvat annotations.xml --images photos/ --out clinic_data

Writes ``DATASET/photos/<patient>/<visit>/<view>.<ext>`` (the photo copied byte for byte,
never re-encoded) and ``DATASET/masks/<patient>/<visit>/<view>.png`` (class ids, contract
section 3), the mask matching the photo as displayed (EXIF orientation applied), which is
what annotation tools show. Label names map to classes by :mod:`.labels`.

Patient, visit and view come from each photo's relative name (for LabelMe: the JSON file's
path under SRC, else its ``imagePath``): ``<patient>/<visit>/<view>.<ext>`` (the last three
parts) or flat ``<patient>_<visit>_<view>.<ext>``; ``--pattern`` gives a regular
expression with named groups ``patient``, ``visit`` and ``view`` instead (searched in the
name, ``/`` separating folders). Views may be any synonym of the contract (``vertex`` ->
``top``).

A bad file or image is reported (naming the file) and skipped; the others are imported,
and the exit code is 1 if anything failed. The source folder is never written to.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from autosalt.annotations.coco import read_coco
from autosalt.annotations.cvat import read_cvat
from autosalt.annotations.labelme import read_labelme
from autosalt.annotations.labels import CLASS_DISPLAY, load_label_table
from autosalt.annotations.shapes import AnnotationError, ImageAnnotation, paint_mask
from autosalt.contract import CLASS_BACKGROUND, CLASS_IGNORE, IMAGE_EXTENSIONS, VIEWS, canonical_view
from autosalt.fileio import (
    InputError,
    UnsafePathError,
    path_inside,
    read_photo,
    write_bytes_atomic,
    write_png_atomic,
)
from autosalt.layout import parse_flat_name

FORMATS = ("labelme", "cvat", "coco")
_SUFFIX = {"labelme": ".json", "cvat": ".xml", "coco": ".json"}


@dataclass
class ImportResult:
    """What an import did: images written, problems (each naming its file), class pixels."""

    imported: list[tuple[str, str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    class_pixels: dict[int, int] = field(default_factory=dict)

    def summary(self, out: Path) -> str:
        patients = {key[0] for key in self.imported}
        visits = {key[:2] for key in self.imported}
        total = sum(self.class_pixels.values()) or 1
        shares = ", ".join(f"{CLASS_DISPLAY[c]} {100 * n / total:.1f}%"
                           for c, n in sorted(self.class_pixels.items()))
        lines = [f"imported {len(self.imported)} images ({len(patients)} patients, {len(visits)} "
                 f"visits) into {out}; {len(self.errors)} failed, {len(self.skipped)} skipped, "
                 f"{len(self.warnings)} warnings"]
        if self.imported:
            lines.append(f"class pixels: {shares}")
        return "\n".join(lines)


def identify(names: list[str], pattern: re.Pattern | None) -> tuple[str, str, str] | None:
    """(patient, visit, view) from the first name that parses, or None."""
    for name in names:
        name = PurePosixPath(name.replace("\\", "/")).as_posix()
        if pattern is not None:
            match = pattern.search(name)
            if match and canonical_view(match.group("view")):
                return match.group("patient"), match.group("visit"), canonical_view(match.group("view"))
            continue
        parts = PurePosixPath(name).with_suffix("").parts if PurePosixPath(name).suffix.lower() in \
            IMAGE_EXTENSIONS + (".json",) else PurePosixPath(name).parts
        if len(parts) >= 3 and canonical_view(parts[-1]) and parts[-3] not in ("", "..", ".") \
                and parts[-2] not in ("", "..", "."):
            return parts[-3], parts[-2], canonical_view(parts[-1])
        if parts:
            flat = parse_flat_name(parts[-1])
            if flat is not None:
                return flat[0], flat[1], canonical_view(flat[2])
    return None


def read_annotations(source: Path, format_name: str, images_root: Path | None,
                     result: ImportResult) -> list[ImageAnnotation]:
    """All image annotations under ``source`` (a file, or a folder searched recursively)."""
    if not source.exists():
        raise FileNotFoundError(f"{source}: no such file or folder")
    files = sorted(path for path in source.rglob(f"*{_SUFFIX[format_name]}")
                   if not path.name.startswith(".")) if source.is_dir() else [source]
    if not files:
        raise FileNotFoundError(f"{source}: no {_SUFFIX[format_name]} files found for --format {format_name}")
    root = source if source.is_dir() else source.parent
    records = []
    for path in files:
        try:
            if format_name == "labelme":
                records.append(read_labelme(path, root))
            elif format_name == "cvat":
                records += read_cvat(path, images_root or path.parent)
            else:
                records += read_coco(path, images_root or path.parent)
        except AnnotationError as error:
            result.errors.append(str(error))
    return records


def import_annotations(source: str | Path, out: str | Path, format_name: str,
                       images_root: str | Path | None = None, labels_file: str | Path | None = None,
                       unknown: str = "error", unlabeled: int = CLASS_BACKGROUND,
                       pattern: str | None = None, overwrite: bool = False) -> ImportResult:
    """Import every annotation under ``source`` into the labeled-data folder ``out``."""
    if format_name not in FORMATS:
        raise ValueError(f"unknown format '{format_name}'; choose one of {', '.join(FORMATS)}")
    source, out = Path(source), Path(out)
    labels = load_label_table(labels_file)
    compiled = _compile_pattern(pattern)
    result = ImportResult()
    records = read_annotations(source, format_name, Path(images_root) if images_root else None, result)
    seen: dict[tuple[str, str, str], Path] = {}
    for record in records:
        if record.error:
            result.errors.append(record.error)
            continue
        if record.skip:
            result.skipped.append(record.skip)
            continue
        try:
            key = _import_one(record, out, labels, unknown, unlabeled, compiled, overwrite, seen, result)
        except InputError as error:
            result.errors.append(str(error))
            continue
        finally:
            result.warnings += record.warnings
        result.imported.append(key)
    return result


def _compile_pattern(pattern: str | None) -> re.Pattern | None:
    if pattern is None:
        return None
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise ValueError(f"--pattern is not a valid regular expression ({error})") from None
    missing = {"patient", "visit", "view"} - set(compiled.groupindex)
    if missing:
        raise ValueError(f"--pattern needs the named groups (?P<patient>...), (?P<visit>...) and "
                         f"(?P<view>...); missing: {', '.join(sorted(missing))}")
    return compiled


def _import_one(record: ImageAnnotation, out: Path, labels: dict[str, int], unknown: str,
                unlabeled: int, pattern: re.Pattern | None, overwrite: bool,
                seen: dict[tuple[str, str, str], Path], result: ImportResult) -> tuple[str, str, str]:
    key = identify(record.names, pattern)
    if key is None:
        how = f"--pattern {pattern.pattern!r}" if pattern else \
            "<patient>/<visit>/<view>.<ext> or <patient>_<visit>_<view>.<ext>"
        raise AnnotationError(record.message(
            f"cannot tell patient, visit and view from {' or '.join(map(repr, record.names))} "
            f"(expected {how}, view one of {', '.join(VIEWS)} or a synonym); rename or use --pattern"))
    if key in seen:
        raise AnnotationError(record.message(f"{'/'.join(key)} was already imported from {seen[key]}"))
    if not record.photo.is_file():
        raise AnnotationError(record.message(f"photo {record.photo} not found (annotation for a "
                                             "missing photo?); check the path or --images"))
    photo = read_photo(record.photo)
    shape = photo.shape[:2]
    if record.size is not None and record.size != shape:
        raise AnnotationError(record.message(
            f"annotation is for a {record.size[1]}x{record.size[0]} image but {record.photo} shows "
            f"{shape[1]}x{shape[0]} (EXIF orientation applied): was it made on a rotated or resized copy?"))
    mask = paint_mask(record, shape, labels, unknown, unlabeled)
    patient, visit, view = key
    try:  # the ids become folder names: refuse .., a/b, absolute paths, links out of DATASET
        photo_target = path_inside(out, "photos", patient, visit, f"{view}{record.photo.suffix.lower()}")
        mask_target = path_inside(out, "masks", patient, visit, f"{view}.png")
        loss_target = path_inside(out, "loss", patient, visit, f"{view}.png")
    except UnsafePathError as error:
        raise AnnotationError(record.message(f"patient {patient!r}, visit {visit!r}: {error}; "
                                             "rename the photo or use --pattern")) from None
    existing = [path for path in photo_target.parent.glob(f"{view}.*")
                if path.suffix.lower() in IMAGE_EXTENSIONS] + \
        [path for path in (mask_target, loss_target) if path.is_file()]
    if existing and not overwrite:
        raise AnnotationError(record.message(f"{'/'.join(key)} is already in {out} "
                              f"({existing[0]}); use --overwrite to replace it"))
    write_bytes_atomic(photo_target, record.photo.read_bytes())
    write_png_atomic(mask_target, mask)
    for stale in existing:
        if stale not in (photo_target, mask_target):
            stale.unlink()  # an old photo with another extension, or a loss map for the old mask
            record.warnings.append(record.message(f"removed {stale} (replaced by this import)"))
    seen[key] = record.source
    values, counts = np.unique(mask, return_counts=True)
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        result.class_pixels[value] = result.class_pixels.get(value, 0) + count
    return key


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, metavar="SRC",
                        help="annotation file, or a folder searched for them (LabelMe: *.json)")
    parser.add_argument("--format", required=True, choices=FORMATS, dest="format_name",
                        help="labelme (JSON per photo), cvat (CVAT for images 1.1 XML), coco (JSON)")
    parser.add_argument("--out", required=True, type=Path, metavar="DATASET",
                        help="labeled-data folder to write photos/ and masks/ into")
    parser.add_argument("--images", type=Path, default=None,
                        help="folder the CVAT/COCO image names are relative to "
                             "(default: the annotation file's folder)")
    parser.add_argument("--labels", type=Path, default=None, metavar="MAP.yaml",
                        help="YAML 'label name: class id' pairs added to the default table")
    parser.add_argument("--unknown", choices=("error", "ignore"), default="error",
                        help="unknown label names: fail that file (default) or skip those shapes")
    parser.add_argument("--unlabeled", choices=("background", "ignore"), default="background",
                        help="class of pixels no shape covers (default background)")
    parser.add_argument("--pattern", default=None, metavar="REGEX",
                        help="regular expression with named groups patient, visit and view, "
                             r"e.g. '(?P<patient>P\d+)-(?P<visit>w\d+)-(?P<view>\w+)'")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace photos and masks already in DATASET")


def run(args: argparse.Namespace) -> int:
    try:
        result = import_annotations(
            args.source, args.out, args.format_name, args.images, args.labels, args.unknown,
            CLASS_IGNORE if args.unlabeled == "ignore" else CLASS_BACKGROUND, args.pattern,
            args.overwrite)
    except InputError as error:
        print(f"autosalt import-annotations: error: {error}", file=sys.stderr)
        return 2
    for message in result.warnings:
        print(f"warning: {message}", file=sys.stderr)
    for message in result.skipped:
        print(f"skipped: {message}", file=sys.stderr)
    for message in result.errors:
        print(f"error: {message}", file=sys.stderr)
    print(result.summary(args.out))
    return 1 if result.errors else 0
