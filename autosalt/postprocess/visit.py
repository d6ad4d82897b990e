"""One visit's masks -> per-view percents, by a named method (``pixel`` or ``surface``).

Both the ``score-masks`` command (masks from files) and batch scoring (masks from the
network) come through :func:`score_visit`, so the two can never disagree on the arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from autosalt.postprocess.pixel import EmptyScalpError, pixel_view_percent
from autosalt.postprocess.surface import surface_method
from autosalt.postprocess.values import VisitValues

#: A method takes view -> class mask (H, W) uint8 and view -> loss fraction (H, W) or None,
#: plus view -> a name for messages (usually the file), and returns VisitValues.
VisitMethod = Callable[[Mapping[str, np.ndarray], Mapping[str, np.ndarray | None],
                        Mapping[str, str]], VisitValues]


def pixel_method(masks: Mapping[str, np.ndarray], losses: Mapping[str, np.ndarray | None],
                 names: Mapping[str, str]) -> VisitValues:
    """Each view on its own: mean loss over the photo's scalp pixels."""
    result = VisitValues()
    for view, mask in masks.items():
        try:
            result.values[view] = pixel_view_percent(mask, losses.get(view))
        except EmptyScalpError as error:
            result.errors.append(f"{names.get(view, view)}: {error}")
        except ValueError as error:
            result.errors.append(f"{names.get(view, view)}: {error}")
    return result


METHODS: dict[str, VisitMethod] = {"pixel": pixel_method, "surface": surface_method}
DEFAULT_METHOD = "surface"


def score_visit(masks: Mapping[str, np.ndarray], losses: Mapping[str, np.ndarray | None],
                names: Mapping[str, str] | None = None, method: str = DEFAULT_METHOD) -> VisitValues:
    """Per-view percents of one visit by ``method`` (see :data:`METHODS`)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {sorted(METHODS)}")
    return METHODS[method](masks, losses, names or {})
