"""Finding visits in folders laid out as in the data contract (sections 2 and 3).

A *visit* is one patient at one time point with up to four view images. Scanning never
opens the images (that is the reader's job) and never writes anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from autosalt.contract import IMAGE_EXTENSIONS, VIEW_SYNONYMS, VIEWS, canonical_view


@dataclass
class Visit:
    """One patient visit: which file holds each view, and what looked wrong while scanning."""

    patient: str
    visit: str
    views: dict[str, Path] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return (self.patient, self.visit)

    @property
    def missing_views(self) -> list[str]:
        return [view for view in VIEWS if view not in self.views]


@dataclass
class ScanResult:
    """Visits found under a root (sorted by patient, visit) and files that were skipped."""

    visits: list[Visit]
    skipped: list[str]  # human-readable reasons, each naming a file or folder

    def summary(self) -> str:
        patients = {visit.patient for visit in self.visits}
        incomplete = sum(1 for visit in self.visits if visit.missing_views)
        with_problems = sum(1 for visit in self.visits if visit.problems)
        return (f"{len(patients)} patients, {len(self.visits)} visits "
                f"({incomplete} with missing views, {with_problems} with duplicate or "
                f"ambiguous files), {len(self.skipped)} files skipped")


def _is_image(path: Path, extensions: tuple[str, ...]) -> bool:
    return path.suffix.lower() in extensions and not path.name.startswith(".")


def _add_view(visits: dict[tuple[str, str], Visit], patient: str, visit_id: str,
              view_name: str, path: Path, skipped: list[str]) -> None:
    view = canonical_view(view_name)
    if view is None:
        skipped.append(f"{path}: '{view_name}' is not a view name "
                       f"(expected one of {', '.join(VIEWS)} or a synonym)")
        return
    record = visits.setdefault((patient, visit_id), Visit(patient, visit_id))
    if view in record.views:
        # Two files for one view (e.g. top.jpg and top.png): refuse to guess which is right.
        record.problems.append(f"duplicate {view} view: {record.views[view].name} and {path.name}")
        return
    record.views[view] = path


def scan_photo_folder(root: str | os.PathLike,
                      extensions: tuple[str, ...] = IMAGE_EXTENSIONS) -> ScanResult:
    """Find visits in ``root/<patient>/<visit>/<view>.<ext>`` or flat ``root/<p>_<v>_<view>.<ext>``.

    Both layouts may be mixed. Ids are kept as the strings found. Unreadable folders and
    files with names that do not parse are reported in ``skipped``, never raised.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder")
    visits: dict[tuple[str, str], Visit] = {}
    skipped: list[str] = []

    def on_error(error: OSError) -> None:
        skipped.append(f"{error.filename}: cannot read folder ({error.strerror})")

    for folder, subfolders, files in os.walk(root, onerror=on_error):
        subfolders.sort()
        folder_path = Path(folder)
        depth = len(folder_path.relative_to(root).parts)
        for name in sorted(files):
            path = folder_path / name
            if not _is_image(path, extensions):
                if path.suffix.lower() in (".heic", ".heif") and ".jpg" in extensions:
                    skipped.append(f"{path}: HEIC/HEIF photos (the iPhone camera's default) are not "
                                   "read; export them as JPEG (or set the camera to 'Most Compatible')")
                elif not name.startswith("."):
                    skipped.append(f"{path}: not an image extension ({', '.join(extensions)})")
                continue
            stem = path.stem
            if depth == 2:
                patient, visit_id = folder_path.relative_to(root).parts
                _add_view(visits, patient, visit_id, stem, path, skipped)
            elif depth == 0:
                parsed = parse_flat_name(stem)
                if parsed is None:
                    skipped.append(f"{path}: flat file names must be <patient>_<visit>_<view>")
                    continue
                _add_view(visits, *parsed, path, skipped)
            else:
                skipped.append(f"{path}: expected <root>/<patient>/<visit>/<view> "
                               f"or <root>/<patient>_<visit>_<view>")
    ordered = [visits[key] for key in sorted(visits)]
    return ScanResult(ordered, skipped)


def parse_flat_name(stem: str) -> tuple[str, str, str] | None:
    """Split a flat file stem ``<patient>_<visit>_<view>`` (view may hold ``_``, e.g. left_side)."""
    lowered = stem.lower()
    synonyms = sorted((s for names in VIEW_SYNONYMS.values() for s in names), key=len, reverse=True)
    for synonym in synonyms:
        if lowered.endswith("_" + synonym):
            patient, _, visit_id = stem[: -len(synonym) - 1].rpartition("_")
            if patient and visit_id:
                return patient, visit_id, stem[-len(synonym):]
    return None


def scan_labeled_folder(root: str | os.PathLike, subfolder: str = "masks") -> ScanResult:
    """Find visits of a labeled-data folder (contract section 3) by its ``masks/`` files."""
    root = Path(root)
    if not (root / subfolder).is_dir():
        raise FileNotFoundError(f"{root}: no '{subfolder}/' folder; a labeled-data folder holds "
                                "photos/, masks/ and optionally loss/ and truth.csv")
    return scan_photo_folder(root / subfolder, extensions=(".png",))


def companion_path(root: Path, kind: str, mask: Path, view: str,
                   extensions: tuple[str, ...] = (".png",),
                   listings: dict[Path, list[Path]] | None = None) -> Path | None:
    """The file in ``root/<kind>/`` that belongs to the mask file ``mask`` (under ``root/masks/``).

    That is the file with the mask's own relative folder and name, in any case and with any of
    ``extensions`` in any case (``masks/P1/v1/Vertex.png`` -> ``photos/P1/v1/Vertex.JPG``); in a
    ``<patient>/<visit>/`` folder the canonical view name ``view`` is tried next
    (``masks/P1/v1/vertex.png`` -> ``photos/P1/v1/top.jpg``). ``listings`` caches each folder's
    files across calls. None when no such file exists.
    """
    relative = mask.relative_to(root / "masks")
    folder = root / kind / relative.parent
    listings = {} if listings is None else listings
    if folder not in listings:
        listings[folder] = sorted(folder.iterdir()) if folder.is_dir() else []
    names = [relative.stem.lower()] + ([view] if len(relative.parts) == 3 else [])
    for name in names:
        for path in listings[folder]:
            if path.stem.lower() == name and path.suffix.lower() in extensions and path.is_file():
                return path
    return None
