"""Turning per-view results into one row of the predicted-scores table (contract section 4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from autosalt.contract import PREDICTED_REQUIRED, STATUS_ERROR, STATUS_FLAGGED, STATUS_OK, VIEWS
from autosalt.salt import aa_iga, salt_from_views, severity_s

#: Columns of the predicted-scores table: the contract's required ones, then ours.
PREDICTED_COLUMNS: tuple[str, ...] = PREDICTED_REQUIRED + ("flags", "method", "model")


def score_row(patient: str, visit: str, view_values: Mapping[str, float | None],
              errors: Sequence[str] = (), flags: Sequence[str] = (),
              allow_partial: bool = False, method: str = "", model: str = "") -> dict:
    """One predicted-scores row.

    Args:
        view_values: view -> percent, or None / absent where the view could not be scored.
        errors: reasons the visit cannot be scored (each names its file); any -> ``error``.
        flags: reasons a human should look (quality checks); any -> ``flagged``.
        allow_partial: give SALT from the views present when some are missing (flagged).
    """
    values = {view: view_values.get(view) for view in VIEWS}
    missing = [view for view in VIEWS if values[view] is None]
    errors, flags = list(errors), list(flags)
    salt = None
    if not errors:
        if missing and not allow_partial:
            errors.append(f"missing views: {', '.join(missing)} (use --allow-partial to score "
                          "from the views present)")
        elif missing:
            flags.append(f"partial visit, missing views: {', '.join(missing)}; SALT assumes "
                         "them as affected as the rest")
        if len(missing) == len(VIEWS):
            errors.append("no view could be scored")
    if not errors:
        salt = salt_from_views({v: x for v, x in values.items() if x is not None},
                               allow_partial=allow_partial)
    status = STATUS_ERROR if errors else STATUS_FLAGGED if flags else STATUS_OK
    return {
        "patient": patient, "visit": visit, "salt": salt, **values,
        "severity_s": severity_s(salt) if salt is not None else None,
        "aa_iga": aa_iga(salt) if salt is not None else None,
        "status": status, "flags": "; ".join(errors + flags), "method": method, "model": model,
    }
