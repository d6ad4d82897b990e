"""Turning per-view results into one row of the predicted-scores table (contract section 4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from autosalt.contract import PREDICTED_REQUIRED, STATUS_ERROR, STATUS_FLAGGED, STATUS_OK, VIEWS
from autosalt.salt import aa_iga, salt_from_views, salt_range, severity_s

#: Columns of the predicted-scores table: the contract's required ones, then ours; ``salt_min``
#: and ``salt_max`` are filled for partial visits only (contract sections 2 and 4).
PREDICTED_COLUMNS: tuple[str, ...] = PREDICTED_REQUIRED + (
    "flags", "notes", "method", "model", "salt_min", "salt_max")


def missing_views_error(missing: Sequence[str]) -> str:
    """The reason a visit with missing views is not scored without ``--allow-partial``."""
    return (f"missing views: {', '.join(missing)} (use --allow-partial to report the views "
            "present and the SALT range they allow)")


def score_row(patient: str, visit: str, view_values: Mapping[str, float | None],
              errors: Sequence[str] = (), flags: Sequence[str] = (),
              notes: Sequence[str] = (), allow_partial: bool = False, method: str = "",
              model: str = "") -> dict:
    """One predicted-scores row.

    Args:
        view_values: view -> percent, or None / absent where the view could not be scored.
        errors: reasons the visit cannot be scored (each names its file); any -> ``error``.
        flags: reasons a human should look (quality checks); any -> ``flagged``.
        notes: what the checks noticed that does not call for a look (kept in ``notes``).
        allow_partial: a visit with missing views reports the views it has and the SALT range
            they allow (``salt_min``: missing views at 0, ``salt_max``: at 100), ``flagged``;
            ``salt``, ``severity_s`` and ``aa_iga`` stay empty. Without it, ``error``.
    """
    values = {view: view_values.get(view) for view in VIEWS}
    missing = [view for view in VIEWS if values[view] is None]
    errors, flags = list(errors), list(flags)
    salt = low = high = None
    if not errors and len(missing) == len(VIEWS):
        errors.append("no view could be scored")
    elif not errors and missing and not allow_partial:
        errors.append(missing_views_error(missing))
    elif not errors and missing:
        low, high = salt_range(values)
        flags.append(f"partial visit, missing views: {', '.join(missing)}; no SALT, the views "
                     f"present allow {low:.2f} to {high:.2f}")
    elif not errors:
        salt = salt_from_views(values)
    status = STATUS_ERROR if errors else STATUS_FLAGGED if flags else STATUS_OK
    return {
        "patient": patient, "visit": visit, "salt": salt, **values,
        "severity_s": severity_s(salt) if salt is not None else None,
        "aa_iga": aa_iga(salt) if salt is not None else None,
        "status": status, "flags": "; ".join(errors + flags), "notes": "; ".join(notes),
        "method": method, "model": model,
        "salt_min": low, "salt_max": high,
    }
