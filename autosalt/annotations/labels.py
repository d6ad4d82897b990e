"""Label names -> mask class ids, and the order in which overlapping shapes are painted.

Raters name their polygons in many ways; the table below maps the usual names to the
contract's class ids (``docs/data-format.md`` section 3). Names are compared after
lower-casing and turning spaces and dashes into underscores (``Hair loss`` = ``hair_loss``).
A YAML file of ``name: class`` pairs (class id or contract class name) extends or overrides
the table (``--labels map.yaml``).

Overlaps are resolved by a fixed priority, not by the order of shapes in the file: a pixel
covered by several shapes gets the class painted last in :data:`PAINT_ORDER`, i.e.
``ignore > hair loss > scalp with hair > skin > background``. So a ``scalp`` polygon around
the whole scalp with ``hair_loss`` polygons drawn over it gives classes 2 and 3, and a
region explicitly marked ``ignore``/``unsure`` stays ignored whatever lies under it.
Pixels no shape covers are background (or ignore, with ``--unlabeled ignore``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from autosalt.contract import (
    CLASS_BACKGROUND,
    CLASS_HAIR,
    CLASS_IGNORE,
    CLASS_LOSS,
    CLASS_NAMES,
    CLASS_SKIN,
    VALID_MASK_VALUES,
)
from autosalt.fileio import InputError

#: Default label table (normalised names). "scalp" means the whole scalp region: with the
#: priority below, hair-loss shapes drawn over it carve out class 3.
DEFAULT_LABELS: dict[str, int] = {
    "background": CLASS_BACKGROUND,
    "skin": CLASS_SKIN, "face": CLASS_SKIN, "ear": CLASS_SKIN, "ears": CLASS_SKIN,
    "neck": CLASS_SKIN, "forehead": CLASS_SKIN,
    "scalp": CLASS_HAIR, "hair": CLASS_HAIR, "scalp_hair": CLASS_HAIR,
    "hair_loss": CLASS_LOSS, "alopecia": CLASS_LOSS, "bald": CLASS_LOSS, "loss": CLASS_LOSS,
    "scalp_loss": CLASS_LOSS,
    "ignore": CLASS_IGNORE, "unsure": CLASS_IGNORE,
}

#: Paint order, lowest priority first: later classes overwrite earlier ones where shapes overlap.
PAINT_ORDER: tuple[int, ...] = (CLASS_BACKGROUND, CLASS_SKIN, CLASS_HAIR, CLASS_LOSS, CLASS_IGNORE)

#: Label written for each class when masks are exported for correction.
EXPORT_LABELS: dict[int, str] = {CLASS_SKIN: "skin", CLASS_HAIR: "scalp_hair",
                                 CLASS_LOSS: "hair_loss", CLASS_IGNORE: "ignore"}

#: Readable class names for summaries (contract names, plus ignore).
CLASS_DISPLAY: dict[int, str] = {**dict(enumerate(CLASS_NAMES)), CLASS_IGNORE: "ignore"}


def normalise_label(name: str) -> str:
    """``' Hair-Loss '`` -> ``'hair_loss'``: the form label tables are keyed by."""
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def load_label_table(path: str | os.PathLike | None = None) -> dict[str, int]:
    """The default table, extended/overridden by a YAML file of ``name: class`` pairs."""
    table = dict(DEFAULT_LABELS)
    if path is None:
        return table
    path = Path(path)
    try:
        mapping = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: label table not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a readable YAML file ({error})") from None
    if not isinstance(mapping, dict) or not mapping:
        raise InputError(f"{path}: a label table is a YAML mapping of 'label name: class', "
                         "e.g. 'patch: 3' or 'patch: scalp_loss'")
    by_name = {name: index for index, name in CLASS_DISPLAY.items()}
    for name, value in mapping.items():
        class_id = by_name.get(normalise_label(value)) if isinstance(value, str) else value
        if isinstance(class_id, bool) or not isinstance(class_id, int) \
                or class_id not in VALID_MASK_VALUES:
            raise InputError(f"{path}: label '{name}' maps to {value!r}; use a class id "
                             f"{sorted(VALID_MASK_VALUES)} or a name {list(by_name)}")
        table[normalise_label(name)] = class_id
    return table
