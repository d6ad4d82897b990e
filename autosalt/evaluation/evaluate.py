"""``autosalt evaluate``: agreement of predicted SALT with manual (rater) SALT.

Joins the predicted-scores table with the manual table on (patient, visit), computes the
agreement statistics of :mod:`autosalt.evaluation.agreement` (each with a 95% CI), the
band confusion matrices and the SALT <= 20 / <= 10 endpoint agreement, and, when the manual
table has a ``rater`` column, compares the model's disagreement with the raters' own.

Writes ``REPORT/metrics.json``, ``REPORT/metrics.csv``, the plots as PNG and a
self-contained ``REPORT/report.html`` written like the methods and results of a
validation paper. The statistics themselves are :mod:`autosalt.evaluation.evaluate_stats`;
this module joins the tables, draws the plots, writes the page and runs the command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from autosalt.contract import VIEWS
from autosalt.evaluation import agreement as ag
from autosalt.evaluation.agreement import Estimate
from autosalt.evaluation.evaluate_stats import (
    BLAND_ALTMAN_LINES,
    ENDPOINTS,
    IGA_LABELS,
    S_LABELS,
    STATISTICS,
    THIRDS,
    agreement_statistics,
    metrics_payload,
    metrics_rows,
    per_view_statistics,
    rater_statistics,
    s_code,
    status_statistics,
    uncertainty_statistics,
)
from autosalt.evaluation.html import HtmlReport, plt, save_figure
from autosalt.evaluation.provenance import Provenance, caveat_box, read_provenance
from autosalt.evaluation.tables import ExcludedRow, Joined, TableError, join_scores, load_scores
from autosalt.evaluation.views import compare_salt, evaluate_views, print_view_summary
from autosalt.fileio import InputError, write_csv_atomic, write_json_atomic


def make_plots(out: Path, joined: Joined, results: dict) -> dict[str, bytes]:
    """Scatter with identity line, Bland-Altman, error per view and per band (PNG bytes)."""
    predicted, manual = joined.predicted, joined.manual
    plots = {}
    figure, axis = plt.subplots(figsize=(5.2, 5))
    axis.plot([0, 100], [0, 100], color="0.3", lw=1, label="identity")
    for threshold in (20, 10):
        axis.axhline(threshold, color="tab:green", lw=0.6, ls=":")
        axis.axvline(threshold, color="tab:green", lw=0.6, ls=":")
    flagged = np.array(joined.statuses) == "flagged"
    axis.scatter(manual[~flagged], predicted[~flagged], s=18, alpha=0.75, color="tab:blue", label="visits")
    if flagged.any():
        axis.scatter(manual[flagged], predicted[flagged], s=40, facecolors="none",
                     edgecolors="tab:red", label="flagged for review")
    axis.set(xlim=(-2, 102), ylim=(-2, 102), xlabel="Manual SALT (raters)", ylabel="Predicted SALT (model)",
             title=f"Predicted vs manual SALT (n = {manual.size})")
    axis.legend(loc="upper left", fontsize=8)
    plots["scatter"] = save_figure(figure, out / "scatter.png")

    figure, axis = plt.subplots(figsize=(6, 4.2))
    mean, difference = (predicted + manual) / 2, predicted - manual
    axis.scatter(mean, difference, s=18, alpha=0.75)
    scalars = results["scalars"]
    for key, label in BLAND_ALTMAN_LINES.items():
        value = scalars[key].value
        if value is not None:
            axis.axhline(value, color="tab:red", ls="-" if key == "bias" else "--", lw=1)
            axis.annotate(f"{label} {value:.2f}", (100, value), fontsize=8, ha="right", va="bottom")
    axis.axhline(0, color="0.5", lw=0.6)
    axis.set(xlim=(-2, 102), xlabel="Mean of predicted and manual SALT",
             ylabel="Predicted - manual (SALT points)", title="Bland-Altman plot")
    plots["bland_altman"] = save_figure(figure, out / "bland_altman.png")

    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
    views = [view for view in VIEWS if view in joined.view_pairs]
    if views:
        left.boxplot([np.abs(np.subtract(*joined.view_pairs[v])) for v in views],
                     tick_labels=[v.capitalize() for v in views])
        left.set(ylabel="Absolute error (% of the view's area)", title="Error per view")
    else:
        left.text(0.5, 0.5, "no manual per-view scores", ha="center", va="center",
                  transform=left.transAxes)
        left.set(title="Error per view", xticks=[], yticks=[])
    bands = list(results["per_band_mae"])
    codes = np.array([s_code(v) for v in manual])
    right.boxplot([np.abs(predicted - manual)[codes == S_LABELS.index(b)] for b in bands],
                  tick_labels=bands)
    right.set(ylabel="Absolute SALT error (points)", xlabel="Manual S-scale band", title="Error per band")
    figure.tight_layout()
    plots["errors"] = save_figure(figure, out / "errors_per_view_and_band.png")
    return plots


def write_html(out: Path, joined: Joined, results: dict, views: dict[str, Estimate],
               raters: dict | None, plots: dict[str, bytes], predicted_path: Path,
               manual_path: Path, provenance: Provenance) -> None:
    """``REPORT/report.html``: the inputs and caveat, methods, results tables, figures and the
    visits compared and not compared."""
    report = HtmlReport("Agreement of automated SALT scores with manual scoring")
    report.paragraph(f"Predicted: {predicted_path}. Manual: {manual_path}.", "small")
    caveat_box(report, provenance)
    _methods_section(report, joined, results["n"])
    report.heading("Results")
    _agreement_table(report, results)
    _endpoint_table(report, results["endpoints"])
    _confusion_tables(report, results["confusion"])
    _error_tables(report, joined, results["per_band_mae"], views)
    if results["by_status"]:
        _status_table(report, results["by_status"])
    if results["by_uncertainty"]:
        _uncertainty_table(report, results["by_uncertainty"])
    if raters is not None:
        _rater_section(report, raters)
    _figures(report, plots)
    _visits_table(report, joined)
    _not_compared_list(report, joined)
    report.write(out / "report.html")


def _methods_section(report: HtmlReport, joined: Joined, n: int) -> None:
    """How the visits were paired, which statistics were computed and how their CIs were."""
    report.heading("Methods")
    rater_text = (f" Manual scores came from {len(joined.raters)} raters "
                  f"({', '.join(joined.raters)}); the reference for each visit is the raters' mean."
                  if joined.raters else "")
    report.paragraph(
        f"Predicted and manual SALT scores were paired by patient and visit. {n} visits were "
        f"scored by both; {_excluded_text(joined.excluded)}; {len(joined.only_predicted)} visits "
        f"appear only in the predicted table and {len(joined.only_manual)} only in the manual "
        "table." + rater_text)
    report.paragraph(
        "Agreement was assessed with the mean absolute error (MAE), root mean square error "
        "(RMSE), bias (mean of predicted minus manual) and Bland-Altman 95% limits of agreement "
        "(bias +- 1.96 SD of the differences); the intraclass correlation for absolute agreement "
        "ICC(2,1) = ICC(A,1) and for consistency ICC(3,1) = ICC(C,1) (Shrout & Fleiss 1979; "
        "McGraw & Wong 1996) from a two-way table of visits by the two methods; Pearson's r; "
        "Spearman's rho; Lin's concordance correlation coefficient (CCC); and the quadratic-"
        "weighted kappa on the S-scale (S0 = 0, S1 = 1-24, S2 = 25-49, S3 = 50-74, S4 = 75-99, "
        "S5 = 100) and on AA-IGA grades (0 = 0, 1 = 1-20, 2 = 21-49, 3 = 50-94, 4 = 95-100), SALT "
        "rounded to a whole percent before banding. For the endpoints SALT ≤ 20 and SALT ≤ 10 "
        "the manual decision was the reference: sensitivity, specificity, accuracy and Cohen's "
        "kappa.")
    report.paragraph(
        "95% confidence intervals: bias from the t distribution; MAE, RMSE and the kappas by "
        f"{ag.BOOTSTRAP_METHOD}; limits of agreement per Bland & Altman (1999); ICCs from the F "
        "distribution (McGraw & Wong 1996); Pearson r on Fisher's z; Spearman rho on Fisher's "
        "z with the Bonett-Wright standard error; CCC on Fisher's z with Lin's (1989) variance; "
        "proportions by the Wilson score interval. A statistic that cannot be computed from the "
        "data (too few visits, no variance) is reported as n/a with the reason.")


def _agreement_table(report: HtmlReport, results: dict) -> None:
    """Table 1: every scalar agreement statistic with its CI and note."""
    report.paragraph(f"Table 1. Agreement of predicted with manual SALT (n = {results['n']} visits).")
    report.table(["Statistic", "Estimate", "95% CI", "Note"],
                 [[STATISTICS[key], e.value, _ci_text(e), e.note]
                  for key, e in results["scalars"].items()])


def _endpoint_table(report: HtmlReport, endpoint_results: dict) -> None:
    """Table 2: sensitivity, specificity, accuracy and kappa of each SALT endpoint."""
    report.paragraph("Table 2. Trial endpoints, manual decision as reference.")
    rows = []
    for name, result in endpoint_results.items():
        counts = result["counts"]
        for stat in ("sensitivity", "specificity", "accuracy", "kappa"):
            e = result[stat]
            rows.append([f"{ENDPOINTS[name]}: {stat}", e.value, _ci_text(e), e.note or
                         f"TP {counts['tp']}, FN {counts['fn']}, FP {counts['fp']}, TN {counts['tn']}"])
    report.table(["Endpoint", "Estimate", "95% CI", "Counts / note"], rows)


def _confusion_tables(report: HtmlReport, confusion: dict) -> None:
    """The S-scale and AA-IGA confusion matrices (rows manual, columns predicted)."""
    for name, labels, title in (("s_scale", S_LABELS, "S-scale"), ("aa_iga", IGA_LABELS, "AA-IGA")):
        matrix = confusion[name]
        report.paragraph(f"Confusion matrix of {title} bands (rows manual, columns predicted).")
        report.table(["manual \\ predicted", *labels],
                     [[label, *map(int, matrix[i])] for i, label in enumerate(labels)])


def _error_tables(report: HtmlReport, joined: Joined, per_band_mae: dict,
                  views: dict[str, Estimate]) -> None:
    """MAE per manual S-scale band, and per view where the manual table has view scores."""
    report.paragraph("Mean absolute error by manual S-scale band and by view.")
    report.table(["Band", "n", "MAE"], [[band, v["n"], v["mae"]] for band, v in
                                        per_band_mae.items()])
    if views:
        report.table(["View", "n", "MAE (percent of area)", "95% CI"],
                     [[view, int(joined.view_pairs[view][0].size), e.value, _ci_text(e)]
                      for view, e in views.items()])
    else:
        report.paragraph("The manual table has no per-view scores, so per-view error is not reported.")


def _status_table(report: HtmlReport, by_status: dict) -> None:
    """Agreement per batch-scoring status (ok, flagged)."""
    report.paragraph("Agreement by the status batch scoring gave each visit: 'ok', or "
                     "'flagged' for a person to review (a scalp read mostly as partial loss, or a "
                     "photo outside what the model was made for; the flags column says which). "
                     "Flags are useful when the large errors fall among the flagged visits.")
    report.table(["Status", "n", "Share of visits", "MAE", "95% CI", "Bias", "95% CI",
                  "Largest error"],
                 [[status, entry["n"], f"{100 * entry['share']:.0f}%", entry["mae"].value,
                   _ci_text(entry["mae"]), entry["bias"].value, _ci_text(entry["bias"]),
                   entry["max_abs_error"]] for status, entry in by_status.items()])


def _uncertainty_table(report: HtmlReport, statistics: dict) -> None:
    """Agreement per third of the network's uncertainty, and its rank correlation with the error."""
    rho = statistics["spearman"]
    report.paragraph(
        "Agreement by the network's uncertainty (batch scoring's 'uncertainty' column: 100 x (1 - "
        "its mean top-class probability over the head), in thirds of the visits from least to "
        f"most uncertain. Spearman rho between uncertainty and absolute error: {rho.value:.2f} "
        f"{_ci_text(rho)} (n {statistics['n']}). A useful uncertainty puts the large errors "
        "in the top third.")
    report.table(["Third", "n", "Uncertainty", "MAE", "95% CI", "Largest error"],
                 [[name, entry["n"], f"{entry['range'][0]:.2f}-{entry['range'][1]:.2f}",
                   entry["mae"].value, _ci_text(entry["mae"]), entry["max_abs_error"]]
                  for name, entry in statistics["thirds"].items()])


def _figures(report: HtmlReport, plots: dict[str, bytes]) -> None:
    """Figures 1-3: scatter, Bland-Altman, and errors per view and band."""
    report.image(plots["scatter"], "Figure 1. Predicted vs manual SALT; the diagonal is perfect "
                 "agreement, dotted lines mark SALT 10 and 20.", width=480)
    report.image(plots["bland_altman"], "Figure 2. Bland-Altman plot: difference against mean, "
                 "with bias and 95% limits of agreement.", width=560)
    report.image(plots["errors"], "Figure 3. Absolute error per view (where manual per-view "
                 "scores exist) and per manual S-scale band.", width=820)


def _not_compared_list(report: HtmlReport, joined: Joined) -> None:
    """The visits left out, and those found in only one table, if any."""
    if joined.excluded or joined.only_predicted or joined.only_manual:
        report.heading("Visits not compared")
        report.bullets([f"{e.key[0]}/{e.key[1]}: left out, {e.reason}" for e in joined.excluded]
                       + [f"{p}/{v}: only in the predicted table" for p, v in joined.only_predicted]
                       + [f"{p}/{v}: only in the manual table" for p, v in joined.only_manual])


def _excluded_text(excluded: list[ExcludedRow]) -> str:
    partial = sum(entry.partial for entry in excluded)
    return (f"{len(excluded) - partial} predicted visit(s) were not scored (status error or no "
            f"SALT) and {partial} were partial visits (views missing, so only a SALT range is "
            "known); both were left out")


def _visits_table(report: HtmlReport, joined: Joined) -> None:
    """Every compared visit with both scores, the difference, and batch scoring's status and flags."""
    report.heading("Visits compared")
    report.paragraph("Each visit scored by both, with the status and flags batch scoring gave it "
                     "(difference = predicted - manual).")
    rows = [[patient, visit, manual, predicted, predicted - manual, status or "", flags]
            for (patient, visit), manual, predicted, status, flags in zip(
                joined.keys, joined.manual, joined.predicted, joined.statuses, joined.flags, strict=True)]
    report.table(["Patient", "Visit", "Manual SALT", "Predicted SALT", "Difference", "Status", "Flags"],
                 rows, text_columns=(1, 5, 6))


def _ci_text(estimate: Estimate) -> str:
    if estimate.low is None:
        return ""
    return f"{estimate.low:.2f} to {estimate.high:.2f}"


def _rater_section(report: HtmlReport, raters: dict) -> None:
    report.heading("Model and raters", 3)
    if "inter_rater" not in raters:
        report.paragraph(raters["note"], "note")
        return
    report.paragraph(raters["answer"])
    inter = raters["inter_rater"]
    rows = [["Inter-rater ICC(1,1)", inter["icc1"].value, _ci_text(inter["icc1"])],
            ["Inter-rater ICC(2,1)", inter["icc_a1"].value, _ci_text(inter["icc_a1"])],
            ["Inter-rater ICC(3,1)", inter["icc_c1"].value, _ci_text(inter["icc_c1"])],
            ["ICC(2,1) with the model as one more rater", raters["raters_plus_model_icc_a1"].value,
             _ci_text(raters["raters_plus_model_icc_a1"])],
            ["Model vs raters' mean: MAE", raters["model_vs_raters_mean"]["mae"].value,
             _ci_text(raters["model_vs_raters_mean"]["mae"])],
            ["Model vs raters' mean: ICC(2,1)", raters["model_vs_raters_mean"]["icc_a1"].value,
             _ci_text(raters["model_vs_raters_mean"]["icc_a1"])]]
    for rater, entry in raters["each_rater"].items():
        rows.append([f"Rater {rater} vs the others' mean: MAE", entry["mae_vs_others_mean"].value,
                     _ci_text(entry["mae_vs_others_mean"])])
        rows.append([f"Rater {rater} vs the others' mean: ICC(2,1)",
                     entry["icc_a1_vs_others_mean"].value, _ci_text(entry["icc_a1_vs_others_mean"])])
    report.paragraph(f"Table 3. Raters and model on the {raters['n_complete']} visits scored by "
                     "every rater.")
    report.table(["Comparison", "Estimate", "95% CI"], rows)


def evaluate(predicted_path: str | Path, manual_path: str | Path, out: str | Path,
             by_view: bool = False) -> dict:
    """Run the whole evaluation; returns the ``metrics.json`` payload.

    When no visit has a SALT in both tables (single-view visits), or with ``by_view``, the
    view percents are compared instead (:mod:`autosalt.evaluation.views`).
    """
    predicted_path, manual_path, out = Path(predicted_path), Path(manual_path), Path(out)
    if by_view or not compare_salt(predicted_path, manual_path):
        return evaluate_views(predicted_path, manual_path, out)
    predicted = load_scores(predicted_path, predicted=True)
    manual = load_scores(manual_path)
    joined = join_scores(predicted, manual)
    if not joined.keys:
        raise TableError(f"{predicted_path} and {manual_path} share no (patient, visit): check "
                         "that ids are written the same way in both (e.g. '007' vs '7')")
    results = agreement_statistics(joined.predicted, joined.manual)
    results["by_status"] = status_statistics(joined)
    results["by_uncertainty"] = uncertainty_statistics(joined)
    views = per_view_statistics(joined)
    raters = rater_statistics(joined)
    out.mkdir(parents=True, exist_ok=True)
    provenance = read_provenance(predicted_path, predicted.models)
    payload = metrics_payload(joined, results, views, raters, predicted_path, manual_path, provenance)
    write_json_atomic(out / "metrics.json", payload)
    write_csv_atomic(out / "metrics.csv", metrics_rows(payload, results, views, raters),
                     ["metric", "value", "ci_low", "ci_high", "n", "method", "note"])
    plots = make_plots(out, joined, results)
    write_html(out, joined, results, views, raters, plots, predicted_path, manual_path, provenance)
    return payload


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pred", required=True, type=Path, help="predicted scores CSV")
    parser.add_argument("--manual", required=True, type=Path,
                        help="manual scores CSV (patient, visit, salt; optional views, rater)")
    parser.add_argument("--out", required=True, type=Path, help="report folder (created)")
    parser.add_argument("--by-view", action="store_true",
                        help="compare the view percents (top, left, right, back) instead of SALT; "
                             "the default when no visit has a SALT in both tables")


def run(args: argparse.Namespace) -> int:
    try:
        payload = evaluate(args.pred, args.manual, args.out, args.by_view)
    except InputError as error:
        print(f"autosalt evaluate: error: {error}", file=sys.stderr)
        return 2
    if payload.get("mode") == "views":
        print_view_summary(payload, args.out)
        return 0
    for label, key in (("n", "n"), ("MAE", "mae"), ("bias", "bias"), ("ICC(A,1)", "icc_a1"),
                       ("CCC", "ccc"), ("kappa S-scale", "kappa_s_scale")):
        value = payload[key]
        print(f"{label:>14}: {'n/a' if value is None else value}")
    for status, entry in payload["by_status"].items():
        print(f"{'MAE ' + status:>14}: {entry['mae']} (n {entry['n']}, largest error "
              f"{entry['max_abs_error']})")
    if payload["by_uncertainty"]:
        entry = payload["by_uncertainty"]
        print(f"{'uncertainty':>14}: Spearman rho with |error| {entry['spearman_abs_error']}; MAE by "
              "third (low, middle, high) " + ", ".join(str(entry["thirds"][name]["mae"]) for name in THIRDS))
    partial = payload["n_partial_skipped"]
    print(f"left out {len(payload['excluded'])} predicted visits without a SALT ({partial} partial, "
          f"{len(payload['excluded']) - partial} not scored), only predicted "
          f"{len(payload['only_predicted'])}, only manual {len(payload['only_manual'])}")
    print(f"report: {args.out / 'report.html'}")
    return 0
