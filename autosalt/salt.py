"""SALT arithmetic: per-view values to SALT, severity bands, trial endpoints, relapse.

Pure functions on plain floats (percent, 0..100). The definitions are those of
``docs/data-format.md`` section 1. Bands are defined by the contract on whole percents
(``S1 = 1-24``), so a continuous SALT is first rounded half-up to a whole percent before it
is banded: 24.49 is S1, 24.5 is S2, 0.4 is S0. Thresholded endpoints (``SALT <= 20``) use the
value as it is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from autosalt.contract import SALT_AREA_WEIGHTS, VIEWS

#: S-scale bands (Olsen 2004): (label, lowest whole percent, highest whole percent).
S_SCALE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("S0", 0, 0), ("S1", 1, 24), ("S2", 25, 49), ("S3", 50, 74), ("S4", 75, 99), ("S5", 100, 100),
)
#: AA-IGA bands: (grade, lowest whole percent, highest whole percent).
AA_IGA_BANDS: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0), (1, 1, 20), (2, 21, 49), (3, 50, 94), (4, 95, 100),
)
AA_IGA_NAMES = {0: "none", 1: "limited", 2: "moderate", 3: "severe", 4: "very severe"}
#: Default rise (SALT points) above the best visit that counts as relapse.
DEFAULT_RELAPSE_MARGIN = 10.0


def _check_percent(value: float, what: str = "SALT") -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0.0 or value > 100.0:
        raise ValueError(f"{what} must be a number in 0..100, got {value!r}")
    return value


def _view_values(view_values: Mapping[str, float | None]) -> dict[str, float]:
    """The views given a value (None counts as not given), each checked to be a percent."""
    unknown = sorted(set(view_values) - set(VIEWS))
    if unknown:
        raise ValueError(f"unknown view names {unknown}; expected {list(VIEWS)}")
    return {view: _check_percent(view_values[view], view) for view in VIEWS
            if view_values.get(view) is not None}


def salt_from_views(view_values: Mapping[str, float]) -> float:
    """SALT from per-view percents: ``0.40*top + 0.18*left + 0.18*right + 0.24*back``.

    Args:
        view_values: view name -> percent of that area's scalp with hair loss (0..100); all
            four views are needed (for fewer, :func:`salt_range` gives the SALT they allow).
    Returns:
        SALT in 0..100.
    """
    present = _view_values(view_values)
    missing = [view for view in VIEWS if view not in present]
    if missing:
        raise ValueError(f"missing views {missing}: SALT needs all four (salt_range gives the "
                         "range the views present allow)")
    salt = sum(SALT_AREA_WEIGHTS[view] * value for view, value in present.items())
    return min(100.0, max(0.0, salt))


def salt_range(view_values: Mapping[str, float | None]) -> tuple[float, float]:
    """The lowest and highest SALT the views given allow: missing views at 0 and at 100.

    Never an estimate of the missing views: a partial visit has no SALT, only this range
    (contract section 2). With all four views both ends are the SALT.
    """
    present = _view_values(view_values)
    if not present:
        raise ValueError("no view values given")
    known = sum(SALT_AREA_WEIGHTS[view] * value for view, value in present.items())
    unknown_weight = sum(SALT_AREA_WEIGHTS[view] for view in VIEWS if view not in present)
    return min(100.0, max(0.0, known)), min(100.0, max(0.0, known + 100.0 * unknown_weight))


def whole_percent(salt: float) -> int:
    """Round half-up to a whole percent (how raters record SALT; used for banding)."""
    return int(math.floor(_check_percent(salt) + 0.5))


def severity_s(salt: float) -> str:
    """S-scale band (``S0``..``S5``) of a SALT value."""
    rounded = whole_percent(salt)
    for label, low, high in S_SCALE_BANDS:
        if low <= rounded <= high:
            return label
    raise AssertionError("unreachable: bands cover 0..100")


def aa_iga(salt: float) -> int:
    """AA-IGA grade (0..4) of a SALT value."""
    rounded = whole_percent(salt)
    for grade, low, high in AA_IGA_BANDS:
        if low <= rounded <= high:
            return grade
    raise AssertionError("unreachable: bands cover 0..100")


def improvement_percent(baseline: float, salt: float) -> float | None:
    """Relative improvement from baseline in percent; None when the baseline is 0."""
    baseline, salt = _check_percent(baseline, "baseline SALT"), _check_percent(salt)
    if baseline == 0.0:
        return None
    return 100.0 * (baseline - salt) / baseline


@dataclass(frozen=True)
class Endpoints:
    """Trial endpoints of one visit (``None`` where undefined, e.g. baseline SALT 0)."""

    salt_le_20: bool
    salt_le_10: bool
    salt50: bool | None
    salt75: bool | None
    salt90: bool | None
    salt100: bool | None


def endpoints(salt: float, baseline: float | None = None) -> Endpoints:
    """Absolute (SALT <= 20, <= 10) and relative (SALT50/75/90/100 vs baseline) endpoints."""
    salt = _check_percent(salt)
    improvement = None if baseline is None else improvement_percent(baseline, salt)

    def reached(percent: float) -> bool | None:
        return None if improvement is None else improvement >= percent - 1e-9

    return Endpoints(salt <= 20.0, salt <= 10.0, reached(50), reached(75), reached(90), reached(100))


@dataclass(frozen=True)
class Relapse:
    """Result of relapse detection on one patient's visits (indices into the input)."""

    relapsed: bool
    best_index: int | None  # the best visit before the relapse (or overall, if none)
    relapse_index: int | None  # first visit at least `margin` above the best visit before it


def detect_relapse(salts: Sequence[float], margin: float = DEFAULT_RELAPSE_MARGIN) -> Relapse:
    """Relapse = SALT rising by at least ``margin`` points above the best visit so far.

    The best visit is taken as of each visit (running minimum), so a relapse that later
    responds again is still found. Ties take the earliest visit.

    Args:
        salts: SALT per visit in time order.
        margin: rise in SALT points that counts as relapse (default 10).
    """
    if not salts:
        raise ValueError("no visits")
    if margin <= 0:
        raise ValueError(f"relapse margin must be > 0, got {margin}")
    values = [_check_percent(s) for s in salts]
    best_index = 0
    for index in range(1, len(values)):
        if values[index] >= values[best_index] + margin - 1e-9:
            return Relapse(True, best_index, index)
        if values[index] < values[best_index]:
            best_index = index
    return Relapse(False, best_index, None)
