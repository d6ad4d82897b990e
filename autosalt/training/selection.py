"""Which validation measure picks ``best.pt``, and whether a value beats the best so far.

SALT exists only for visits with all four views; real photos often come one view per visit,
and then the SALT MAE is nan on every epoch. The view-percent MAE and the hair-loss Jaccard
exist for any visit, so ``train.select_metric: auto`` falls back to the view-percent MAE when
any validation visit lacks a view.
"""

from __future__ import annotations

import math

from autosalt.contract import VIEWS
from autosalt.training.data import Sample
from autosalt.training.engine import group_visits

HIGHER_IS_BETTER = {"salt_mae": False, "view_mae": False, "loss_jaccard": True}
IMPROVEMENT = 1e-6  # a change smaller than this is not an improvement


def resolve_select_metric(requested: str, val_samples: list[Sample]) -> str:
    """The measure named by ``train.select_metric`` (``auto`` resolved against the validation
    visits: ``salt_mae`` when every one has all four views, else ``view_mae``)."""
    if requested != "auto":
        return requested
    visits = group_visits(val_samples)
    complete = bool(visits) and all({s.view for s in visit} == set(VIEWS) for visit in visits)
    return "salt_mae" if complete else "view_mae"


def improves(metric: str, value: float | None, best: float | None) -> bool:
    """True when ``value`` of ``metric`` is a number that beats ``best`` (None: nothing yet)."""
    if value is None or not math.isfinite(value):
        return False
    if best is None:
        return True
    if HIGHER_IS_BETTER[metric]:
        return value > best + IMPROVEMENT
    return value < best - IMPROVEMENT
