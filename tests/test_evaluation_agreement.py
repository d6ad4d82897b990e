"""Agreement statistics against published worked examples and exact identities."""

from __future__ import annotations

import numpy as np
import pytest

from autosalt.evaluation import agreement as ag

# Shrout & Fleiss (1979) Table 2: six targets rated by four judges.
SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8],
                          [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float)


def test_icc_reproduces_shrout_fleiss_table_2():
    result = ag.intraclass_correlation(SHROUT_FLEISS)
    assert round(result.icc1.value, 2) == 0.17
    assert round(result.icc_a1.value, 2) == 0.29
    assert round(result.icc_c1.value, 2) == 0.71
    # 95% CIs as printed by R psych::ICC(sf) for the same data (McGraw & Wong F intervals).
    assert (round(result.icc1.low, 2), round(result.icc1.high, 2)) == (-0.13, 0.72)
    assert (round(result.icc_a1.low, 2), round(result.icc_a1.high, 2)) == (0.02, 0.76)
    assert (round(result.icc_c1.low, 2), round(result.icc_c1.high, 2)) == (0.34, 0.95)


def test_icc_needs_two_targets_and_variance():
    assert "at least 2 targets" in ag.intraclass_correlation(np.array([[3.0, 4.0]])).icc_a1.note
    constant = ag.intraclass_correlation(np.full((3, 2), 5.0))
    assert constant.icc_a1.value is None and "same" in constant.icc_a1.note
    perfect = ag.intraclass_correlation(np.array([[1.0, 1.0], [5.0, 5.0], [9.0, 9.0]]))
    assert perfect.icc_a1.value == pytest.approx(1.0)


def test_cohen_kappa_worked_example():
    # 50 cases: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> p_o 0.70, p_e 0.50, kappa 0.40.
    rater_a = [1] * 25 + [0] * 25
    rater_b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    kappa = ag.cohen_kappa(rater_a, rater_b, 2)
    assert kappa.value == pytest.approx(0.40)
    assert kappa.low < 0.40 < kappa.high


def test_quadratic_kappa_equals_ccc_of_codes():
    # Exact identity: quadratic-weighted kappa = Lin's CCC of the integer codes (moments / n).
    rng = np.random.default_rng(3)
    a = rng.integers(0, 6, 40)
    b = np.clip(a + rng.integers(-1, 2, 40), 0, 5)
    kappa = ag.cohen_kappa(a, b, 6, "quadratic").value
    assert kappa == pytest.approx(ag.concordance_correlation(a, b).value, abs=1e-12)
    assert ag.cohen_kappa([2, 2], [2, 2], 6, "quadratic").value is None


def test_ccc_definition_and_ci():
    x = np.array([10.0, 20, 30, 40, 55, 70])
    y = x + 5  # perfectly correlated but shifted: CCC < 1 = Pearson
    ccc = ag.concordance_correlation(x, y)
    expected = 2 * np.cov(x, y, bias=True)[0, 1] / (x.var() + y.var() + 25)
    assert ccc.value == pytest.approx(expected)
    assert ag.pearson(x, y).value == pytest.approx(1.0)
    noisy = ag.concordance_correlation(x, x + np.array([3.0, -2, 4, -5, 1, 2]))
    assert noisy.low < noisy.value < noisy.high <= 1


def test_limits_of_agreement_and_bias():
    predicted, manual = np.array([12.0, 20, 33, 41, 50]), np.array([10.0, 22, 30, 40, 47])
    loa = ag.limits_of_agreement(predicted, manual)
    differences = predicted - manual
    assert loa.bias.value == pytest.approx(differences.mean())
    assert loa.lower.value == pytest.approx(differences.mean() - 1.959964 * differences.std(ddof=1))
    assert loa.lower.low < loa.lower.value < loa.lower.high
    assert ag.mean_absolute_error(predicted, manual).value == pytest.approx(np.abs(differences).mean())


def test_one_pair_says_what_is_missing_instead_of_nan():
    one = ([30.0], [25.0])
    assert ag.mean_absolute_error(*one).value == 5.0 and ag.mean_absolute_error(*one).low is None
    assert "at least 2" in ag.limits_of_agreement(*one).lower.note
    assert "at least 3" in ag.pearson(*one).note
    assert ag.pearson([1.0, 1, 1], [1.0, 2, 3]).note.endswith("constant")
    assert ag.proportion(0, 0).value is None


def test_binary_agreement_counts_and_wilson():
    result = ag.binary_agreement([True, True, False, False], [True, False, False, False])
    assert result["counts"] == {"tp": 1, "fn": 1, "fp": 0, "tn": 2}
    assert result["sensitivity"].value == 0.5 and result["specificity"].value == 1.0
    assert result["accuracy"].value == 0.75
    assert 0 < result["sensitivity"].low < 0.5 < result["sensitivity"].high < 1
