"""SALT arithmetic against hand-computed numbers and every band edge."""

import math

import pytest

from autosalt.salt import (
    aa_iga,
    detect_relapse,
    endpoints,
    improvement_percent,
    salt_from_views,
    salt_range,
    severity_s,
    whole_percent,
)


def test_weights_by_hand():
    # 0.40*50 + 0.18*10 + 0.18*20 + 0.24*100 = 20 + 1.8 + 3.6 + 24 = 49.4
    assert salt_from_views({"top": 50, "left": 10, "right": 20, "back": 100}) == pytest.approx(49.4)
    assert salt_from_views({"top": 100, "left": 0, "right": 0, "back": 0}) == pytest.approx(40.0)
    assert salt_from_views({"top": 0, "left": 100, "right": 0, "back": 0}) == pytest.approx(18.0)
    assert salt_from_views({"top": 0, "left": 0, "right": 0, "back": 100}) == pytest.approx(24.0)
    assert salt_from_views(dict.fromkeys(("top", "left", "right", "back"), 100.0)) == 100.0


def test_missing_view_gives_a_range_never_a_salt():
    with pytest.raises(ValueError, match="missing views"):
        salt_from_views({"top": 10, "left": 10, "right": 10})
    # 0.4*10 + 0.18*40 + 0.18*40 = 18.4 with back at 0; + 0.24*100 = 42.4 with back at 100.
    assert salt_range({"top": 10, "left": 40, "right": 40}) == pytest.approx((18.4, 42.4))
    assert salt_range({"top": 10, "left": 40, "right": 40, "back": None}) == pytest.approx((18.4, 42.4))
    # One left profile of 60: 0.18*60 = 10.8 .. 10.8 + 0.82*100 = 92.8.
    assert salt_range({"left": 60}) == pytest.approx((10.8, 92.8))
    full = {"top": 50, "left": 10, "right": 20, "back": 100}
    assert salt_range(full) == pytest.approx((49.4, 49.4))
    with pytest.raises(ValueError, match="no view"):
        salt_range({})


@pytest.mark.parametrize("bad", [-0.1, 100.01, math.nan, math.inf])
def test_out_of_range_view_rejected(bad):
    with pytest.raises(ValueError):
        salt_from_views({"top": bad, "left": 0, "right": 0, "back": 0})


def test_unknown_view_rejected():
    with pytest.raises(ValueError, match="unknown view"):
        salt_from_views({"top": 1, "left": 1, "right": 1, "back": 1, "front": 1})


@pytest.mark.parametrize("salt, band", [
    (0, "S0"), (0.49, "S0"), (0.5, "S1"), (1, "S1"), (24, "S1"), (24.49, "S1"), (24.5, "S2"),
    (25, "S2"), (49, "S2"), (50, "S3"), (74, "S3"), (75, "S4"), (99, "S4"), (99.49, "S4"),
    (99.5, "S5"), (100, "S5"),
])
def test_s_scale_edges(salt, band):
    assert severity_s(salt) == band


@pytest.mark.parametrize("salt, grade", [
    (0, 0), (0.4, 0), (1, 1), (20, 1), (20.49, 1), (20.5, 2), (21, 2), (49, 2), (50, 3), (94, 3),
    (94.5, 4), (95, 4), (100, 4),
])
def test_aa_iga_edges(salt, grade):
    assert aa_iga(salt) == grade


def test_whole_percent_rounds_half_up():
    assert whole_percent(2.5) == 3 and whole_percent(3.5) == 4 and whole_percent(2.49) == 2


def test_absolute_endpoints():
    assert endpoints(20.0).salt_le_20 and not endpoints(20.01).salt_le_20
    assert endpoints(10.0).salt_le_10 and not endpoints(10.01).salt_le_10


def test_relative_endpoints_by_hand():
    # baseline 80 -> 40 is exactly 50% better; -> 20 is 75%; -> 8 is 90%; -> 0 is 100%.
    assert improvement_percent(80, 40) == pytest.approx(50.0)
    e = endpoints(40, baseline=80)
    assert (e.salt50, e.salt75, e.salt90, e.salt100) == (True, False, False, False)
    e = endpoints(20, baseline=80)
    assert (e.salt50, e.salt75, e.salt90) == (True, True, False)
    e = endpoints(8, baseline=80)
    assert (e.salt90, e.salt100) == (True, False)
    assert endpoints(0, baseline=80).salt100 is True
    assert endpoints(40.1, baseline=80).salt50 is False
    assert endpoints(5, baseline=0).salt50 is None  # undefined without a baseline loss
    assert endpoints(90, baseline=60).salt50 is False  # worse than baseline


def test_relapse_detection():
    # best 5 at index 2; 15 is exactly +10 -> relapse at index 3
    result = detect_relapse([60, 20, 5, 15, 30])
    assert result.relapsed and result.best_index == 2 and result.relapse_index == 3
    assert not detect_relapse([60, 20, 5, 14.9]).relapsed
    assert not detect_relapse([60, 50, 40]).relapsed
    assert detect_relapse([60, 20, 5, 12], margin=5).relapsed
    # A relapse that later responds again is still found (running best).
    assert detect_relapse([60, 10, 30, 0]).relapse_index == 2
    with pytest.raises(ValueError):
        detect_relapse([])
