"""Agreement statistics between two (or more) sets of SALT scores, each with a 95% CI.

Pure functions on numpy arrays. Every statistic returns an :class:`Estimate`: a value, a
confidence interval where one exists, the CI method in words (copied into the report), and
a ``note`` saying why a value is missing (too few pairs, no variance...) instead of NaN.

Where scipy computes a statistic (Pearson, Spearman, F and t quantiles, Wilson intervals) it
is used; the rest is short, written from the published formulas and tested against their
worked examples (``tests/test_evaluation_agreement.py``):

- ICC(1,1), ICC(2,1) = ICC(A,1), ICC(3,1) = ICC(C,1): Shrout & Fleiss (1979) mean squares,
  CIs from the F distribution as in McGraw & Wong (1996), Table 7.
- Lin's concordance correlation (1989, 2000 erratum), CI on Fisher's z.
- Cohen's kappa and weighted kappa (Cohen 1960, 1968) with seeded bootstrap CIs.
- Bland & Altman (1986) limits of agreement, CIs from Bland & Altman (1999) section 4.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20240607


@dataclass(frozen=True)
class Estimate:
    """A statistic with its 95% CI; ``value`` is None when it cannot be computed (see note)."""

    value: float | None
    low: float | None = None
    high: float | None = None
    method: str = ""
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _missing(note: str, method: str = "") -> Estimate:
    return Estimate(None, None, None, method, note)


def _pairs(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired scores must be two 1-D arrays of one length, got {x.shape}, {y.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("paired scores must be finite numbers")
    return x, y


def bootstrap_interval(statistic: Callable[[np.ndarray], float | None], n: int,
                       seed: int = BOOTSTRAP_SEED) -> tuple[float | None, float | None]:
    """Percentile CI of ``statistic(indices)`` over resampled pair indices (seeded); resamples
    where the statistic is undefined (None or not finite) are left out, and with most of them
    undefined there is no interval (None, None)."""
    if n < 2:
        return None, None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        value = statistic(rng.integers(0, n, size=n))
        if value is not None and math.isfinite(value):
            values.append(value)
    if len(values) < BOOTSTRAP_RESAMPLES // 2:  # mostly undefined resamples: no honest CI
        return None, None
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


BOOTSTRAP_METHOD = f"percentile bootstrap, {BOOTSTRAP_RESAMPLES} resamples of pairs, seed {BOOTSTRAP_SEED}"

# ----------------------------------------------------------------------------- differences


def mean_absolute_error(predicted: Sequence[float], reference: Sequence[float]) -> Estimate:
    x, y = _pairs(predicted, reference)
    if x.size == 0:
        return _missing("no pairs")
    error = np.abs(x - y)
    low, high = bootstrap_interval(lambda idx: float(error[idx].mean()), x.size)
    return Estimate(float(error.mean()), low, high, BOOTSTRAP_METHOD,
                    "" if low is not None else "CI needs at least 2 pairs")


def root_mean_square_error(predicted: Sequence[float], reference: Sequence[float]) -> Estimate:
    x, y = _pairs(predicted, reference)
    if x.size == 0:
        return _missing("no pairs")
    squared = (x - y) ** 2
    low, high = bootstrap_interval(lambda idx: float(np.sqrt(squared[idx].mean())), x.size)
    return Estimate(float(np.sqrt(squared.mean())), low, high, BOOTSTRAP_METHOD,
                    "" if low is not None else "CI needs at least 2 pairs")


def bias(predicted: Sequence[float], reference: Sequence[float]) -> Estimate:
    """Mean difference predicted - reference, CI from the t distribution."""
    x, y = _pairs(predicted, reference)
    method = "mean difference, t-distribution CI"
    if x.size == 0:
        return _missing("no pairs", method)
    difference = x - y
    mean = float(difference.mean())
    if x.size < 2:
        return Estimate(mean, None, None, method, "CI needs at least 2 pairs")
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, x.size - 1) * difference.std(ddof=1) / math.sqrt(x.size)
    return Estimate(mean, mean - half, mean + half, method)


@dataclass(frozen=True)
class LimitsOfAgreement:
    bias: Estimate
    lower: Estimate
    upper: Estimate
    sd: float | None


def limits_of_agreement(predicted: Sequence[float], reference: Sequence[float]) -> LimitsOfAgreement:
    """Bland-Altman 95% limits: bias +- 1.96 SD of the differences.

    The CI of each limit uses its standard error ``SD * sqrt(1/n + 1.96^2 / (2 (n - 1)))``
    and the t distribution (Bland & Altman 1999, section 4.1).
    """
    x, y = _pairs(predicted, reference)
    method = "bias +- 1.96 SD; CI with SE = SD*sqrt(1/n + 1.96^2/(2(n-1))), t distribution"
    mean_difference = bias(x, y)
    if x.size < 2:
        missing = _missing("limits of agreement need at least 2 pairs", method)
        return LimitsOfAgreement(mean_difference, missing, missing, None)
    sd = float((x - y).std(ddof=1))
    z = stats.norm.ppf(0.5 + CONFIDENCE / 2)
    limit_se = sd * math.sqrt(1 / x.size + z**2 / (2 * (x.size - 1)))
    t = stats.t.ppf(0.5 + CONFIDENCE / 2, x.size - 1)
    limits = []
    for sign in (-1, 1):
        limit = mean_difference.value + sign * z * sd
        limits.append(Estimate(limit, limit - t * limit_se, limit + t * limit_se, method))
    return LimitsOfAgreement(mean_difference, limits[0], limits[1], sd)


# ----------------------------------------------------------------------------- correlation


def _fisher_z_interval(r: float, se: float) -> tuple[float, float]:
    z = math.atanh(max(min(r, 1 - 1e-12), -1 + 1e-12))
    half = stats.norm.ppf(0.5 + CONFIDENCE / 2) * se
    return math.tanh(z - half), math.tanh(z + half)


def _correlation_guard(x: np.ndarray, y: np.ndarray, name: str) -> str:
    if x.size < 3:
        return f"{name} needs at least 3 pairs (got {x.size})"
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return f"{name} is undefined when one set of scores is constant"
    return ""


def pearson(x: Sequence[float], y: Sequence[float]) -> Estimate:
    x, y = _pairs(x, y)
    method = "scipy.stats.pearsonr; Fisher z CI"
    note = _correlation_guard(x, y, "Pearson r")
    if note:
        return _missing(note, method)
    r = float(stats.pearsonr(x, y).statistic)
    if x.size < 4:
        return Estimate(r, None, None, method, "CI needs at least 4 pairs")
    low, high = _fisher_z_interval(r, 1 / math.sqrt(x.size - 3))
    return Estimate(r, low, high, method)


def spearman(x: Sequence[float], y: Sequence[float]) -> Estimate:
    x, y = _pairs(x, y)
    method = "scipy.stats.spearmanr; Fisher z CI with Bonett-Wright SE sqrt((1 + rho^2/2)/(n-3))"
    note = _correlation_guard(x, y, "Spearman rho")
    if note:
        return _missing(note, method)
    rho = float(stats.spearmanr(x, y).statistic)
    if x.size < 4:
        return Estimate(rho, None, None, method, "CI needs at least 4 pairs")
    low, high = _fisher_z_interval(rho, math.sqrt((1 + rho**2 / 2) / (x.size - 3)))
    return Estimate(rho, low, high, method)


def concordance_correlation(x: Sequence[float], y: Sequence[float]) -> Estimate:
    """Lin's CCC = 2 s_xy / (s_x^2 + s_y^2 + (mean_x - mean_y)^2), moments with divisor n.

    CI: Fisher z with Lin's (1989) asymptotic variance, as in R ``DescTools::CCC``.
    """
    x, y = _pairs(x, y)
    method = "Lin (1989); Fisher z CI with Lin's asymptotic variance"
    if x.size < 2:
        return _missing(f"CCC needs at least 2 pairs (got {x.size})", method)
    sx2, sy2 = x.var(), y.var()
    sxy = float(np.mean((x - x.mean()) * (y - y.mean())))
    denominator = sx2 + sy2 + (x.mean() - y.mean()) ** 2
    if denominator == 0:
        return _missing("CCC is undefined when both sets are the same constant", method)
    ccc = float(2 * sxy / denominator)
    if x.size < 3 or sx2 == 0 or sy2 == 0 or abs(ccc) >= 1:
        return Estimate(ccc, None, None, method,
                        "CI needs at least 3 pairs, variance in both sets and |CCC| < 1")
    r = sxy / math.sqrt(sx2 * sy2)
    u = (x.mean() - y.mean()) / (sx2 * sy2) ** 0.25
    variance = ((1 - r**2) * ccc**2 / ((1 - ccc**2) * r**2)
                + 2 * ccc**3 * (1 - ccc) * u**2 / (r * (1 - ccc**2) ** 2)
                - ccc**4 * u**4 / (2 * r**2 * (1 - ccc**2) ** 2)) / (x.size - 2)
    if r == 0 or variance <= 0:
        return Estimate(ccc, None, None, method, "CI undefined (no correlation)")
    low, high = _fisher_z_interval(ccc, math.sqrt(variance))
    return Estimate(ccc, low, high, method)


# ----------------------------------------------------------------------------- ICC


@dataclass(frozen=True)
class ICCResult:
    """Single-rating ICCs of an n targets x k raters table (Shrout & Fleiss 1979)."""

    icc1: Estimate  # ICC(1,1): one-way random
    icc_a1: Estimate  # ICC(2,1) = ICC(A,1): two-way random, absolute agreement
    icc_c1: Estimate  # ICC(3,1) = ICC(C,1): two-way mixed, consistency
    n_targets: int
    n_raters: int


def intraclass_correlation(ratings: np.ndarray) -> ICCResult:
    """ICC(1,1), ICC(2,1) and ICC(3,1) of ``ratings`` (n targets x k raters, complete).

    CIs: McGraw & Wong (1996) Table 7 (F distribution; for ICC(A,1) with Satterthwaite's
    degrees of freedom), the same as R ``psych::ICC`` and pingouin.
    """
    ratings = np.asarray(ratings, dtype=float)
    if ratings.ndim != 2 or not np.all(np.isfinite(ratings)):
        raise ValueError("ICC needs a complete 2-D table of finite ratings (targets x raters)")
    n, k = ratings.shape
    if n < 2 or k < 2:
        missing = _missing(f"ICC needs at least 2 targets and 2 raters (got {n} x {k})")
        return ICCResult(missing, missing, missing, n, k)
    grand = ratings.mean()
    ss_total = float(((ratings - grand) ** 2).sum())
    ss_rows = float(k * ((ratings.mean(axis=1) - grand) ** 2).sum())
    ss_cols = float(n * ((ratings.mean(axis=0) - grand) ** 2).sum())
    ss_error = ss_total - ss_rows - ss_cols
    ms_rows = ss_rows / (n - 1)
    ms_cols = ss_cols / (k - 1)
    ms_error = ss_error / ((n - 1) * (k - 1))
    ms_within = (ss_total - ss_rows) / (n * (k - 1))
    if ss_total == 0:
        missing = _missing("ICC is undefined when every rating is the same")
        return ICCResult(missing, missing, missing, n, k)
    alpha = 1 - CONFIDENCE
    f_method = "McGraw & Wong (1996) F-distribution CI"

    def f_interval(icc: float, f_observed: float, df1: float, df2: float) -> Estimate:
        if not math.isfinite(f_observed):
            return Estimate(icc, None, None, f_method, "CI undefined (no residual variance)")
        f_low = f_observed / stats.f.ppf(1 - alpha / 2, df1, df2)
        f_high = f_observed * stats.f.ppf(1 - alpha / 2, df2, df1)
        return Estimate(icc, float((f_low - 1) / (f_low + k - 1)), float((f_high - 1) / (f_high + k - 1)),
                        f_method)

    def ratio(numerator: float, denominator: float) -> float:
        return numerator / denominator if denominator > 0 else math.inf

    icc1 = (ms_rows - ms_within) / (ms_rows + (k - 1) * ms_within)
    icc_c1 = (ms_rows - ms_error) / (ms_rows + (k - 1) * ms_error)
    icc_a1 = (ms_rows - ms_error) / (ms_rows + (k - 1) * ms_error + k * (ms_cols - ms_error) / n)
    one_way = f_interval(icc1, ratio(ms_rows, ms_within), n - 1, n * (k - 1))
    consistency = f_interval(icc_c1, ratio(ms_rows, ms_error), n - 1, (n - 1) * (k - 1))

    # ICC(A,1): Satterthwaite degrees of freedom for the denominator mean square.
    a = k * icc_a1 / (n * (1 - icc_a1)) if icc_a1 < 1 else math.inf
    b = 1 + k * icc_a1 * (n - 1) / (n * (1 - icc_a1)) if icc_a1 < 1 else math.inf
    if ms_error > 0 and math.isfinite(a):
        v = (a * ms_cols + b * ms_error) ** 2 / (
            (a * ms_cols) ** 2 / (k - 1) + (b * ms_error) ** 2 / ((n - 1) * (k - 1)))
        f_low = stats.f.ppf(1 - alpha / 2, n - 1, v)
        f_high = stats.f.ppf(1 - alpha / 2, v, n - 1)
        spread = k * ms_cols + (k * n - k - n) * ms_error
        low = n * (ms_rows - f_low * ms_error) / (f_low * spread + n * ms_rows)
        high = n * (f_high * ms_rows - ms_error) / (spread + n * f_high * ms_rows)
        absolute = Estimate(icc_a1, float(low), float(high), f_method + " (Satterthwaite df)")
    else:
        absolute = Estimate(icc_a1, None, None, f_method, "CI undefined (no residual variance)")
    return ICCResult(one_way, absolute, consistency, n, k)


# ----------------------------------------------------------------------------- kappa


def confusion_matrix(reference: Sequence[int], predicted: Sequence[int], n_classes: int) -> np.ndarray:
    """Counts: rows = reference class, columns = predicted class (codes 0..n_classes-1)."""
    reference, predicted = np.asarray(reference, dtype=int), np.asarray(predicted, dtype=int)
    return np.bincount(reference * n_classes + predicted,
                       minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _kappa_from_codes(reference: np.ndarray, predicted: np.ndarray, n_classes: int,
                      weights: str) -> float | None:
    observed = confusion_matrix(reference, predicted, n_classes).astype(float)
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    codes = np.arange(n_classes)
    if weights == "quadratic":
        disagreement = (codes[:, None] - codes[None, :]) ** 2 / max(n_classes - 1, 1) ** 2
    elif weights == "linear":
        disagreement = np.abs(codes[:, None] - codes[None, :]) / max(n_classes - 1, 1)
    else:
        disagreement = (codes[:, None] != codes[None, :]).astype(float)
    expected_disagreement = float((disagreement * expected).sum())
    if expected_disagreement == 0:
        return None
    return 1.0 - float((disagreement * observed).sum()) / expected_disagreement


def cohen_kappa(reference: Sequence[int], predicted: Sequence[int], n_classes: int,
                weights: str = "none") -> Estimate:
    """Cohen's kappa (``weights='none'``) or weighted kappa (``'linear'``, ``'quadratic'``).

    Classes are the integer codes ``0..n_classes-1`` (all bands of a scale count, observed
    or not, so the weights do not depend on which bands a sample happens to contain).
    """
    if weights not in ("none", "linear", "quadratic"):
        raise ValueError(f"weights must be none, linear or quadratic, got {weights!r}")
    reference, predicted = np.asarray(reference, dtype=int), np.asarray(predicted, dtype=int)
    method = (f"Cohen's kappa ({'unweighted' if weights == 'none' else weights + ' weights'}); "
              f"CI: {BOOTSTRAP_METHOD}")
    if reference.size == 0:
        return _missing("no pairs", method)
    value = _kappa_from_codes(reference, predicted, n_classes, weights)
    if value is None:
        return _missing("kappa is undefined when both raters put every case in one class", method)
    low, high = bootstrap_interval(
        lambda idx: _kappa_from_codes(reference[idx], predicted[idx], n_classes, weights),
        reference.size)
    return Estimate(value, low, high, method, "" if low is not None else "no bootstrap CI (too few pairs)")


# ----------------------------------------------------------------------------- endpoints


def proportion(successes: int, total: int) -> Estimate:
    """A proportion with the Wilson score 95% CI (scipy ``binomtest``)."""
    method = "Wilson score CI"
    if total == 0:
        return _missing("no cases in the denominator", method)
    interval = stats.binomtest(successes, total).proportion_ci(CONFIDENCE, method="wilson")
    return Estimate(successes / total, float(interval.low), float(interval.high), method)


def binary_agreement(reference: Sequence[bool], predicted: Sequence[bool]) -> dict:
    """Sensitivity, specificity, accuracy and Cohen's kappa of a yes/no endpoint.

    ``reference`` is the manual decision (positive = endpoint reached).
    """
    reference, predicted = np.asarray(reference, dtype=bool), np.asarray(predicted, dtype=bool)
    tp = int(np.sum(reference & predicted))
    fn = int(np.sum(reference & ~predicted))
    fp = int(np.sum(~reference & predicted))
    tn = int(np.sum(~reference & ~predicted))
    return {
        "sensitivity": proportion(tp, tp + fn),
        "specificity": proportion(tn, tn + fp),
        "accuracy": proportion(tp + tn, reference.size),
        "kappa": cohen_kappa(reference.astype(int), predicted.astype(int), 2),
        "counts": {"tp": tp, "fn": fn, "fp": fp, "tn": tn},
    }
