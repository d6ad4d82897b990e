"""Per-view agreement: predicted vs manual view percents, for visits that have no SALT.

Real photos often come one view per visit. Such a visit has no SALT (contract section 2: a
partial visit gets ``salt_min``/``salt_max``, never an extrapolated ``salt``), but each view it
has is scored: the ``top``, ``left``, ``right`` and ``back`` columns. ``autosalt evaluate``
compares those when no visit has a SALT in both tables (or with ``--by-view``): per view and
over all views pooled, the mean absolute error, the bias and Spearman's rho, each with its 95%
CI. Rows with status ``error`` are left out of both tables (their values are not results).

Writes ``REPORT/metrics.json`` (``"mode": "views"``), ``REPORT/metrics.csv`` and
``REPORT/report.html``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from autosalt.contract import STATUS_ERROR, VIEWS
from autosalt.evaluation import agreement as ag
from autosalt.evaluation.html import HtmlReport, plt, save_figure
from autosalt.evaluation.tables import Key, TableError, _ids, _percent, _read, _reject_duplicates
from autosalt.fileio import write_csv_atomic, write_json_atomic

#: Statistics per view, in report order: key in metrics.json -> function of (predicted, manual).
VIEW_STATISTICS = {"mae": ag.mean_absolute_error, "bias": ag.bias, "spearman_rho": ag.spearman}


def read_view_table(path: Path) -> tuple[dict[Key, dict[str, float]], set[Key]]:
    """(patient, visit) -> {view: percent} of the rows not in error, and the keys with a SALT.

    Several raters' values of a view (a ``rater`` column) are averaged.
    """
    rows = _read(path, ("patient", "visit"))
    if not {"salt", *VIEWS} & set(rows[0]):
        raise TableError(f"{path}: missing required columns ['salt']; a table of visits without "
                         f"SALT needs at least one view column ({', '.join(VIEWS)})")
    found: dict[Key, dict[str, list[float]]] = {}
    with_salt, keys = set(), []
    for row in rows:
        key = _ids(path, row)
        if row.get("status", "").lower() == STATUS_ERROR:
            continue
        keys.append((*key, row.get("rater", "")))
        for view in VIEWS:
            if row.get(view):
                found.setdefault(key, {}).setdefault(view, []).append(
                    _percent(path, row, view))
        found.setdefault(key, {})
        if row.get("salt"):
            with_salt.add(key)
    _reject_duplicates(path, keys, "rater" in rows[0])
    values = {key: {view: float(np.mean(v)) for view, v in views.items()} for key, views in found.items()}
    return values, with_salt


def compare_salt(predicted_path: Path, manual_path: Path) -> bool:
    """Whether the SALT evaluation applies: some visit has a SALT in both tables, or both tables
    have SALTs but share no visit at all (its message about how ids are written applies then)."""
    predicted, predicted_salt = read_view_table(predicted_path)
    manual, manual_salt = read_view_table(manual_path)
    if predicted_salt & manual_salt:
        return True
    return bool(predicted_salt and manual_salt and not set(predicted) & set(manual))


def view_pairs(predicted: dict[Key, dict[str, float]],
               manual: dict[Key, dict[str, float]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """view -> (predicted, manual) percents over the visits that have that view in both tables;
    ``all`` pools every view."""
    pairs: dict[str, list[tuple[float, float]]] = {view: [] for view in (*VIEWS, "all")}
    for key in sorted(set(predicted) & set(manual)):
        for view in VIEWS:
            if view in predicted[key] and view in manual[key]:
                pair = (predicted[key][view], manual[key][view])
                pairs[view].append(pair)
                pairs["all"].append(pair)
    return {view: (np.array([p for p, _ in found]), np.array([m for _, m in found]))
            for view, found in pairs.items() if found}


def evaluate_views(predicted_path: str | Path, manual_path: str | Path, out: str | Path) -> dict:
    """Per-view agreement of two score tables; returns the ``metrics.json`` payload."""
    predicted_path, manual_path, out = Path(predicted_path), Path(manual_path), Path(out)
    predicted, _ = read_view_table(predicted_path)
    manual, _ = read_view_table(manual_path)
    pairs = view_pairs(predicted, manual)
    if not pairs:
        raise TableError(f"{predicted_path} and {manual_path} share no visit with a view value "
                         "(top, left, right, back) in both: check that ids are written the same "
                         "way in both (e.g. '007' vs '7') and that the view columns are filled")
    statistics = {view: {key: function(*pairs[view]) for key, function in VIEW_STATISTICS.items()}
                  for view in pairs}
    payload = {
        "mode": "views",
        "n_visits": len(set(predicted) & set(manual)),
        "per_view": {view: {"n": int(pairs[view][0].size),
                            **{key: _round(e.value) for key, e in entries.items()},
                            "ci95": {key: [_round(e.low), _round(e.high)] for key, e in entries.items()}}
                     for view, entries in statistics.items()},
        "only_predicted": [{"patient": p, "visit": v} for p, v in sorted(set(predicted) - set(manual))],
        "only_manual": [{"patient": p, "visit": v} for p, v in sorted(set(manual) - set(predicted))],
        "inputs": {"predicted": str(predicted_path), "manual": str(manual_path)},
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "metrics.json", payload)
    write_csv_atomic(out / "metrics.csv",
                     [{"metric": f"{key}_{view}", "value": e.value, "ci_low": e.low, "ci_high": e.high,
                       "n": int(pairs[view][0].size), "method": e.method, "note": e.note}
                      for view, entries in statistics.items() for key, e in entries.items()],
                     ["metric", "value", "ci_low", "ci_high", "n", "method", "note"])
    _write_html(out, pairs, statistics, payload)
    return payload


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def _write_html(out: Path, pairs: dict, statistics: dict, payload: dict) -> None:
    report = HtmlReport("Agreement of automated view percents with manual scoring")
    report.paragraph(f"Predicted: {payload['inputs']['predicted']}. Manual: "
                     f"{payload['inputs']['manual']}.", "small")
    report.paragraph(
        "No visit has a SALT in both tables (a visit of fewer than four views has none), so the "
        "views are compared instead: each view percent (percent of that area's scalp with hair "
        f"loss) paired by patient, visit and view, over {payload['n_visits']} visits in both "
        "tables; 'all' pools every view. 95% CIs: MAE by "
        f"{ag.BOOTSTRAP_METHOD}; bias from the t distribution; Spearman rho on Fisher's z.", "note")
    rows = [[view, int(pairs[view][0].size), *[f"{e.value:.2f}" if e.value is not None else "n/a"
                                               for e in entries.values()],
             *[f"{e.low:.2f} to {e.high:.2f}" if e.low is not None else e.note for e in entries.values()]]
            for view, entries in statistics.items()]
    report.table(["View", "n", "MAE", "Bias", "Spearman rho", "MAE 95% CI", "Bias 95% CI",
                  "Spearman 95% CI"], rows)
    views = [view for view in VIEWS if view in pairs]
    figure, axes = plt.subplots(1, len(views), figsize=(3.2 * len(views), 3.3), squeeze=False)
    for axis, view in zip(axes[0], views, strict=True):
        predicted, manual = pairs[view]
        axis.plot([0, 100], [0, 100], color="0.3", lw=1)
        axis.scatter(manual, predicted, s=16, alpha=0.75)
        axis.set(xlim=(-2, 102), ylim=(-2, 102), title=f"{view} (n = {manual.size})",
                 xlabel="manual percent", ylabel="predicted percent")
    figure.tight_layout()
    report.image(save_figure(figure, out / "views_scatter.png"),
                 "Predicted vs manual view percent; the diagonal is perfect agreement.")
    if payload["only_predicted"] or payload["only_manual"]:
        report.heading("Visits not compared")
        report.bullets([f"{e['patient']}/{e['visit']}: only in the {side} table"
                        for side in ("predicted", "manual") for e in payload[f"only_{side}"]])
    report.write(out / "report.html")


def print_view_summary(payload: dict, out: Path) -> None:
    """What ``autosalt evaluate`` prints for a per-view evaluation."""
    print(f"no visit has a SALT in both tables: view percents compared on {payload['n_visits']} visits")
    for view, entry in payload["per_view"].items():
        print(f"{view:>6}: n {entry['n']:>3}, MAE {entry['mae']}, bias {entry['bias']}, "
              f"Spearman rho {entry['spearman_rho']}")
    print(f"only predicted {len(payload['only_predicted'])}, only manual {len(payload['only_manual'])}")
    print(f"report: {out / 'report.html'}")
