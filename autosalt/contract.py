"""The data contract (``docs/data-format.md``) as constants.

Every module that reads or writes folders, masks or score tables takes its names from here,
so a change to the contract is a change to this one file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

#: The four SALT areas, in the order used everywhere (tables, arrays, plots).
VIEWS: tuple[str, ...] = ("top", "left", "right", "back")

#: Share of the scalp surface each area covers (Olsen 2004); they sum to 1.
SALT_AREA_WEIGHTS: dict[str, float] = {"top": 0.40, "left": 0.18, "right": 0.18, "back": 0.24}

#: Names accepted on input for each view (compared case-insensitively).
VIEW_SYNONYMS: dict[str, tuple[str, ...]] = {
    "top": ("top", "vertex", "superior", "crown"),
    "left": ("left", "l", "left_side", "left-profile"),
    "right": ("right", "r", "right_side", "right-profile"),
    "back": ("back", "posterior", "occipital", "occiput", "rear"),
}

#: Image file extensions accepted on input (compared case-insensitively).
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")

# Mask class ids (contract section 3).
CLASS_BACKGROUND = 0  # backdrop, clothing, hands, clips: anything not the head
CLASS_SKIN = 1  # head skin that is not scalp: face, ears, neck
CLASS_HAIR = 2  # scalp with hair
CLASS_LOSS = 3  # scalp with hair loss
CLASS_IGNORE = 255  # unlabelled or unsure
CLASS_NAMES: tuple[str, ...] = ("background", "skin", "scalp_hair", "scalp_loss")
VALID_MASK_VALUES: frozenset[int] = frozenset({0, 1, 2, 3, 255})


def scalp_pixels(mask: np.ndarray) -> np.ndarray:
    """Boolean (H, W): pixels of a class mask (H, W) labelled scalp, with or without hair."""
    return (mask == CLASS_HAIR) | (mask == CLASS_LOSS)


#: A loss-map pixel stores loss fraction x 255 (contract section 3).
LOSS_MAP_SCALE = 255.0

# Score-table columns (contract section 4).
MANUAL_REQUIRED = ("patient", "visit", "salt")
VISITS_REQUIRED = ("patient", "visit", "week")
TRUTH_COLUMNS = ("patient", "visit", "week", "salt", "top", "left", "right", "back", "pattern")
PREDICTED_REQUIRED = (
    "patient", "visit", "salt", "top", "left", "right", "back", "severity_s", "aa_iga", "status",
)
STATUS_OK, STATUS_FLAGGED, STATUS_ERROR = "ok", "flagged", "error"


def canonical_view(name: str) -> str | None:
    """Map a view name found on input (any case) to its contract name, or None if unknown."""
    key = name.strip().lower()
    for view, synonyms in VIEW_SYNONYMS.items():
        if key in synonyms:
            return view
    return None
