"""The numbers of ``autosalt evaluate``: agreement, endpoint, band, status, uncertainty and
rater statistics of predicted against manual SALT, and their ``metrics.json`` / ``metrics.csv``
forms. The report page and its plots are :mod:`autosalt.evaluation.evaluate`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from autosalt.contract import VIEWS
from autosalt.evaluation import agreement as ag
from autosalt.evaluation.agreement import Estimate
from autosalt.evaluation.provenance import Provenance
from autosalt.evaluation.tables import Joined
from autosalt.salt import AA_IGA_BANDS, S_SCALE_BANDS, aa_iga, endpoints, severity_s

#: Scalar statistics in report order: key in metrics.json -> label in tables.
STATISTICS: dict[str, str] = {
    "mae": "Mean absolute error (SALT points)",
    "rmse": "Root mean square error (SALT points)",
    "bias": "Bias, predicted - manual (SALT points)",
    "loa_lower": "Lower limit of agreement",
    "loa_upper": "Upper limit of agreement",
    "icc_a1": "ICC(2,1) = ICC(A,1), absolute agreement",
    "icc_c1": "ICC(3,1) = ICC(C,1), consistency",
    "pearson_r": "Pearson r",
    "spearman_rho": "Spearman rho",
    "ccc": "Lin's concordance correlation",
    "kappa_s_scale": "Quadratic-weighted kappa, S-scale (S0-S5)",
    "kappa_aa_iga": "Quadratic-weighted kappa, AA-IGA (0-4)",
}
ENDPOINTS = {"salt_le_20": "SALT ≤ 20", "salt_le_10": "SALT ≤ 10"}
#: Bland-Altman lines: key in the statistics -> label on the plot.
BLAND_ALTMAN_LINES = {"bias": "bias", "loa_lower": "lower 95% limit", "loa_upper": "upper 95% limit"}
S_LABELS = [label for label, _, _ in S_SCALE_BANDS]
IGA_LABELS = [str(grade) for grade, _, _ in AA_IGA_BANDS]


def s_code(salt: float) -> int:
    return S_LABELS.index(severity_s(salt))


def agreement_statistics(predicted: np.ndarray, manual: np.ndarray) -> dict:
    """Every pairwise statistic of predicted vs manual SALT (two arrays of one length)."""
    loa = ag.limits_of_agreement(predicted, manual)
    icc = ag.intraclass_correlation(np.column_stack([manual, predicted]))
    s_manual = [s_code(v) for v in manual]
    s_predicted = [s_code(v) for v in predicted]
    iga_manual = [aa_iga(v) for v in manual]
    iga_predicted = [aa_iga(v) for v in predicted]
    scalars: dict[str, Estimate] = {
        "mae": ag.mean_absolute_error(predicted, manual),
        "rmse": ag.root_mean_square_error(predicted, manual),
        "bias": loa.bias,
        "loa_lower": loa.lower,
        "loa_upper": loa.upper,
        "icc_a1": icc.icc_a1,
        "icc_c1": icc.icc_c1,
        "pearson_r": ag.pearson(predicted, manual),
        "spearman_rho": ag.spearman(predicted, manual),
        "ccc": ag.concordance_correlation(predicted, manual),
        "kappa_s_scale": ag.cohen_kappa(s_manual, s_predicted, len(S_LABELS), "quadratic"),
        "kappa_aa_iga": ag.cohen_kappa(iga_manual, iga_predicted, len(IGA_LABELS), "quadratic"),
    }
    endpoint_results = {}
    manual_endpoints = [endpoints(v) for v in manual]
    predicted_endpoints = [endpoints(v) for v in predicted]
    for name in ENDPOINTS:
        endpoint_results[name] = ag.binary_agreement(
            [getattr(e, name) for e in manual_endpoints], [getattr(e, name) for e in predicted_endpoints])
    confusion = {
        "s_scale": ag.confusion_matrix(s_manual, s_predicted, len(S_LABELS)),
        "aa_iga": ag.confusion_matrix(iga_manual, iga_predicted, len(IGA_LABELS)),
    }
    per_band = {}
    errors = np.abs(predicted - manual)
    for code, label in enumerate(S_LABELS):
        members = np.array(s_manual) == code
        if members.any():
            per_band[label] = {"n": int(members.sum()), "mae": float(errors[members].mean())}
    return {"n": int(predicted.size), "scalars": scalars, "endpoints": endpoint_results,
            "confusion": confusion, "per_band_mae": per_band, "sd_differences": loa.sd}


def per_view_statistics(joined: Joined) -> dict[str, Estimate]:
    return {view: ag.mean_absolute_error(*joined.view_pairs[view]) for view in VIEWS
            if view in joined.view_pairs}


def status_statistics(joined: Joined) -> dict[str, dict]:
    """Agreement within each status of the predicted table (``ok``, ``flagged``, ...).

    Batch scoring flags visits a person should look at (a scalp read mostly as partial loss,
    photos outside what the model was made for; docs/scoring.md); this says whether the flags pick out the
    large errors: MAE and bias with their CIs, the largest error, and the share of visits.
    Empty when the predicted table has no ``status`` column.
    """
    statuses = np.array(joined.statuses, dtype=str)
    if not (statuses != "").any():
        return {}
    result = {}
    for status in sorted(set(statuses), key=lambda s: (s != "ok", s)):
        members = statuses == status
        predicted, manual = joined.predicted[members], joined.manual[members]
        result[status or "(none)"] = {
            "n": int(members.sum()), "share": float(members.mean()),
            "mae": ag.mean_absolute_error(predicted, manual), "bias": ag.bias(predicted, manual),
            "max_abs_error": float(np.abs(predicted - manual).max())}
    return result


#: Fewest paired visits with an ``uncertainty`` for :func:`uncertainty_statistics` (3 a third).
UNCERTAINTY_MIN_VISITS = 9
THIRDS = ("low", "middle", "high")


def uncertainty_statistics(joined: Joined) -> dict:
    """Does batch scoring's ``uncertainty`` column rank the errors?

    Spearman rho between the uncertainty and the absolute SALT error, with its CI, and the
    agreement within each third of the visits ordered by uncertainty (low, middle, high): MAE
    with its CI, the largest error and the uncertainties spanned. Empty when fewer than
    :data:`UNCERTAINTY_MIN_VISITS` paired visits carry one.
    """
    given = np.array([value is not None for value in joined.uncertainties], dtype=bool)
    if given.sum() < UNCERTAINTY_MIN_VISITS:
        return {}
    uncertainty = np.array([value for value in joined.uncertainties if value is not None], dtype=float)
    predicted, manual = joined.predicted[given], joined.manual[given]
    errors = np.abs(predicted - manual)
    result = {"n": int(given.sum()), "spearman": ag.spearman(uncertainty, errors), "thirds": {}}
    thirds = np.array_split(np.argsort(uncertainty, kind="stable"), 3)
    for name, members in zip(THIRDS, thirds, strict=True):
        spanned = uncertainty[members]
        result["thirds"][name] = {
            "n": int(members.size), "range": [float(spanned.min()), float(spanned.max())],
            "mae": ag.mean_absolute_error(predicted[members], manual[members]),
            "max_abs_error": float(errors[members].max())}
    return result


def rater_statistics(joined: Joined) -> dict | None:
    """Raters against each other, each rater against the others, the model against raters.

    Uses the visits scored by every rater and by the model, so all comparisons share cases.
    """
    raters = joined.raters
    if len(raters) < 2:
        return None
    rows = [index for index, key in enumerate(joined.keys)
            if all(key in joined.manual_by_rater[rater] for rater in raters)]
    result: dict = {"raters": raters, "n_complete": len(rows)}
    if len(rows) < 2:
        result["note"] = (f"only {len(rows)} visits were scored by all {len(raters)} raters; "
                          "rater comparisons need at least 2")
        return result
    keys = [joined.keys[index] for index in rows]
    ratings = np.array([[joined.manual_by_rater[rater][key] for rater in raters] for key in keys])
    model = joined.predicted[rows]
    inter = ag.intraclass_correlation(ratings)
    with_model = ag.intraclass_correlation(np.column_stack([ratings, model]))
    result["inter_rater"] = {"icc1": inter.icc1, "icc_a1": inter.icc_a1, "icc_c1": inter.icc_c1}
    result["raters_plus_model_icc_a1"] = with_model.icc_a1
    each = {}
    for column, rater in enumerate(raters):
        others = np.delete(ratings, column, axis=1).mean(axis=1)
        each[rater] = {
            "mae_vs_others_mean": ag.mean_absolute_error(ratings[:, column], others),
            "icc_a1_vs_others_mean": ag.intraclass_correlation(
                np.column_stack([others, ratings[:, column]])).icc_a1,
        }
    result["each_rater"] = each
    raters_mean = ratings.mean(axis=1)
    result["model_vs_raters_mean"] = {
        "mae": ag.mean_absolute_error(model, raters_mean),
        "icc_a1": ag.intraclass_correlation(np.column_stack([raters_mean, model])).icc_a1,
    }
    pairwise = [float(np.abs(ratings[:, i] - ratings[:, j]).mean())
                for i in range(len(raters)) for j in range(i + 1, len(raters))]
    model_each = [float(np.abs(model - ratings[:, i]).mean()) for i in range(len(raters))]
    result["mean_pairwise_rater_mae"] = float(np.mean(pairwise))
    result["mean_model_vs_rater_mae"] = float(np.mean(model_each))
    result["answer"] = _rater_answer(result)
    return result


def _rater_answer(result: dict) -> str:
    model, raters = result["mean_model_vs_rater_mae"], result["mean_pairwise_rater_mae"]
    verdict = "more" if model > raters else "no more"
    return (f"The model differs from a single rater by {model:.2f} SALT points on average "
            f"(mean absolute difference), raters differ from each other by {raters:.2f}: "
            f"the model disagrees with raters {verdict} than raters disagree with each other "
            f"(ICC(A,1) among raters {_fmt(result['inter_rater']['icc_a1'])}, with the model "
            f"added as one more rater {_fmt(result['raters_plus_model_icc_a1'])}).")


def _fmt(estimate: Estimate, digits: int = 2) -> str:
    if estimate.value is None:
        return "n/a"
    text = f"{estimate.value:.{digits}f}"
    if estimate.low is not None:
        text += f" ({estimate.low:.{digits}f} to {estimate.high:.{digits}f})"
    return text


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


# ----------------------------------------------------------------------------- outputs


def metrics_payload(joined: Joined, results: dict, views: dict[str, Estimate],
                    raters: dict | None, predicted_path: Path, manual_path: Path,
                    provenance: Provenance) -> dict:
    """The content of ``metrics.json``: plain numbers at the top, CIs, methods and notes beside."""
    payload: dict = {"n": results["n"]}
    ci, methods, notes = {}, {}, {}
    for key, estimate in results["scalars"].items():
        payload[key] = _round(estimate.value)
        ci[key] = [_round(estimate.low), _round(estimate.high)]
        methods[key] = estimate.method
        if estimate.note:
            notes[key] = estimate.note
    payload["endpoints"] = {}
    for name, result in results["endpoints"].items():
        entry = {stat: _round(result[stat].value) for stat in ("sensitivity", "specificity",
                                                               "accuracy", "kappa")}
        entry["ci95"] = {stat: [_round(result[stat].low), _round(result[stat].high)]
                         for stat in ("sensitivity", "specificity", "accuracy", "kappa")}
        entry["counts"] = result["counts"]
        entry["notes"] = {stat: result[stat].note for stat in ("sensitivity", "specificity",
                                                                "accuracy", "kappa") if result[stat].note}
        payload["endpoints"][name] = entry
    payload.update({
        "ci95": ci, "methods": methods, "notes": notes,
        "sd_differences": _round(results["sd_differences"]),
        "confusion": {
            "s_scale": {"labels": S_LABELS, "rows_manual_columns_predicted":
                        results["confusion"]["s_scale"].tolist()},
            "aa_iga": {"labels": IGA_LABELS, "rows_manual_columns_predicted":
                       results["confusion"]["aa_iga"].tolist()},
        },
        "per_band_mae": {band: {"n": v["n"], "mae": _round(v["mae"])}
                         for band, v in results["per_band_mae"].items()},
        "per_view_mae": {view: {"n": int(joined.view_pairs[view][0].size), "mae": _round(e.value),
                                "ci95": [_round(e.low), _round(e.high)]} for view, e in views.items()},
        "by_status": {status: {"n": entry["n"], "share": _round(entry["share"]),
                               "mae": _round(entry["mae"].value),
                               "mae_ci95": [_round(entry["mae"].low), _round(entry["mae"].high)],
                               "bias": _round(entry["bias"].value),
                               "bias_ci95": [_round(entry["bias"].low), _round(entry["bias"].high)],
                               "max_abs_error": _round(entry["max_abs_error"])}
                      for status, entry in results["by_status"].items()},
        "by_uncertainty": _uncertainty_payload(results["by_uncertainty"]),
        "raters": _raters_payload(raters),
        "inputs": {"predicted": str(predicted_path), "manual": str(manual_path)},
        "models": provenance.models, "validated_on": provenance.validated_on,
        "n_partial_skipped": sum(entry.partial for entry in joined.excluded),
        "excluded": [entry.to_json() for entry in joined.excluded],
        "only_predicted": [{"patient": p, "visit": v} for p, v in joined.only_predicted],
        "only_manual": [{"patient": p, "visit": v} for p, v in joined.only_manual],
        "settings": {"confidence": ag.CONFIDENCE, "bootstrap_resamples": ag.BOOTSTRAP_RESAMPLES,
                     "bootstrap_seed": ag.BOOTSTRAP_SEED},
    })
    return payload


def _raters_payload(raters: dict | None) -> dict | None:
    if raters is None:
        return None

    def convert(value):
        if isinstance(value, Estimate):
            return {"value": _round(value.value), "ci95": [_round(value.low), _round(value.high)],
                    **({"note": value.note} if value.note else {})}
        if isinstance(value, dict):
            return {key: convert(item) for key, item in value.items()}
        return value

    return convert(raters)


def _uncertainty_payload(statistics: dict) -> dict:
    if not statistics:
        return {}
    rho = statistics["spearman"]
    return {"n": statistics["n"], "spearman_abs_error": _round(rho.value),
            "spearman_ci95": [_round(rho.low), _round(rho.high)],
            "thirds": {name: {"n": entry["n"], "range": [_round(v) for v in entry["range"]],
                              "mae": _round(entry["mae"].value),
                              "mae_ci95": [_round(entry["mae"].low), _round(entry["mae"].high)],
                              "max_abs_error": _round(entry["max_abs_error"])}
                       for name, entry in statistics["thirds"].items()}}


def metrics_rows(payload: dict, results: dict, views: dict[str, Estimate], raters: dict | None) -> list[dict]:
    """One CSV row per statistic: metric, value, ci_low, ci_high, n, method, note."""
    rows = []

    def add(metric: str, estimate: Estimate, n: int) -> None:
        rows.append({"metric": metric, "value": estimate.value, "ci_low": estimate.low,
                     "ci_high": estimate.high, "n": n, "method": estimate.method, "note": estimate.note})

    for key, estimate in results["scalars"].items():
        add(key, estimate, results["n"])
    for name, result in results["endpoints"].items():
        for stat in ("sensitivity", "specificity", "accuracy", "kappa"):
            add(f"{name}.{stat}", result[stat], results["n"])
    for view, estimate in views.items():
        add(f"mae_{view}", estimate, payload["per_view_mae"][view]["n"])
    for status, entry in results["by_status"].items():
        add(f"status_{status}.mae", entry["mae"], entry["n"])
        add(f"status_{status}.bias", entry["bias"], entry["n"])
    if results["by_uncertainty"]:
        add("uncertainty.spearman_abs_error", results["by_uncertainty"]["spearman"],
            results["by_uncertainty"]["n"])
        for name, entry in results["by_uncertainty"]["thirds"].items():
            add(f"uncertainty_{name}.mae", entry["mae"], entry["n"])
    if raters and "inter_rater" in raters:
        n = raters["n_complete"]
        add("raters.icc1", raters["inter_rater"]["icc1"], n)
        add("raters.icc_a1", raters["inter_rater"]["icc_a1"], n)
        add("raters.icc_c1", raters["inter_rater"]["icc_c1"], n)
        add("raters_plus_model.icc_a1", raters["raters_plus_model_icc_a1"], n)
        add("model_vs_raters_mean.mae", raters["model_vs_raters_mean"]["mae"], n)
        add("model_vs_raters_mean.icc_a1", raters["model_vs_raters_mean"]["icc_a1"], n)
        for rater, entry in raters["each_rater"].items():
            add(f"rater_{rater}_vs_others_mean.mae", entry["mae_vs_others_mean"], n)
            add(f"rater_{rater}_vs_others_mean.icc_a1", entry["icc_a1_vs_others_mean"], n)
    return rows
