import numpy as np
import pytest

from blurtool import amount


def test_levels_have_the_documented_bounds():
    assert [amount.level_name(a) for a in (0.0, 0.99, 1.0, 3.9, 4.0, 9.9, 10.0, 50.0)] == [
        "none", "none", "low", "low", "medium", "medium", "high", "high"]
    np.testing.assert_array_equal(amount.level_index(np.array([0.5, 2.0, 5.0, 12.0])), [0, 1, 2, 3])


def test_the_reference_unit_is_independent_of_the_photo_size():
    # The same blur, 5 px on a 640 px photo and 20 px on its 2560 px original, is one amount.
    assert amount.to_reference(5.0, 640) == pytest.approx(amount.to_reference(20.0, 2560)) == pytest.approx(7.8125)
    # 8 px at a 1000 px long side of a 1000 x 750 photo is 8 / 1250 of the diagonal.
    assert amount.diagonal_fraction(8.0, 750, 1000) == pytest.approx(8 / 1250)


def test_png_round_trip_in_tenths_and_saturation():
    a = np.array([[0.0, 0.04, 1.26, 25.5, 40.0]], np.float32)
    grey = amount.to_png(a)
    assert grey.dtype == np.uint8 and grey.tolist() == [[0, 0, 13, 255, 255]]
    np.testing.assert_allclose(amount.from_png(grey), [[0.0, 0.0, 1.3, 25.5, 25.5]])


def _knots(pairs):
    return tuple(float(a) for a, _ in pairs), tuple(float(b) for _, b in pairs)


def test_a_calibration_curve_interpolates_in_log_space_and_never_saturates():
    curve = amount.AmountCalibration(_knots([(0, 0), (3, 7), (15, 31)]), _knots([(0, 0), (1, 1)]))
    probs = np.zeros((1, 5, 3), np.float32)
    probs[..., 1] = 1.0  # defocus everywhere: the first curve
    raw = np.array([[0.0, 3.0, 15.0, 63.0, -1.0]], np.float32)
    out = curve.apply(raw, probs)
    # Knots exactly; past the last knot the ratio of (1 + amount) is kept: (1 + 63) x 32 / 16 - 1; below 0 is 0.
    np.testing.assert_allclose(out, [[0.0, 7.0, 31.0, 127.0, 0.0]], rtol=1e-5)
    # Between knots: linear in log(1 + amount), so monotone.
    mid = curve.apply(np.array([[1.0, 2.0]], np.float32), probs[:, :2])
    assert 0 < mid[0, 0] < mid[0, 1] < 7


def test_a_calibration_weighs_the_two_kinds_by_their_probabilities():
    curve = amount.AmountCalibration(_knots([(0, 0), (10, 10)]), _knots([(0, 0), (10, 30)]))
    probs = np.array([[[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.25, 0.25]]], np.float32)
    out = curve.apply(np.full((1, 3), 10.0, np.float32), probs)
    np.testing.assert_allclose(out, [[10.0, 30.0, 20.0]], rtol=1e-5)


def test_a_card_round_trip_and_malformed_entries():
    curve = amount.AmountCalibration(_knots([(0, 0), (2, 5)]), _knots([(0, 0), (4, 3)]), note="n")
    assert amount.AmountCalibration.from_card(curve.to_card()) == curve
    for bad in ({"defocus": [[0, 2], [0, 5]]},  # a kind missing
                {"defocus": [[1, 2], [0, 5]], "motion": [[0, 1], [0, 1]]},  # not from (0, 0)
                {"defocus": [[0, 2, 2], [0, 5, 6]], "motion": [[0, 1], [0, 1]]}):  # raw knots not increasing
        with pytest.raises((KeyError, ValueError)):
            amount.AmountCalibration.from_card(bad)


def test_fit_curve_inverts_a_monotone_distortion():
    rng = np.random.default_rng(0)
    true = np.exp(rng.uniform(np.log(0.5), np.log(30), 400))
    raw = 0.4 * true ** 1.3 * np.exp(rng.normal(0, 0.05, true.size))  # reads small blur low, large blur high
    curve = amount.fit_curve(raw, true)
    assert curve[0][0] == curve[1][0] == 0 and len(curve[0]) <= amount.CALIBRATION_KNOTS
    assert np.all(np.diff(curve[0]) > 0) and np.all(np.diff(curve[1]) >= 0)
    cal = amount.AmountCalibration(curve, curve)
    probs = np.zeros((1, true.size, 3), np.float32)
    probs[..., 1] = 1.0
    est = cal.apply(raw[None].astype(np.float32), probs)[0]
    assert np.median(np.abs(est - true) / true) < 0.1 < np.median(np.abs(raw - true) / true)


def test_a_region_amount_is_the_median_so_flat_guesses_do_not_pull_it_up():
    # Two thirds of the region read 2 (a slight blur where there is texture), a flat third reads 9 (the context's
    # guess): the mean would be 4.3 ("medium"), the median stays 2 ("low").
    reading = np.full((30, 30), 2.0, np.float32)
    reading[:10] = 9.0
    where = np.ones((30, 30), bool)
    assert amount.region_amount(reading, where) == pytest.approx(2.0)
    assert amount.level_name(amount.region_amount(reading, where)) == "low" and amount.level_name(float(reading.mean())) == "medium"
    where[10:] = False  # only the flat rows
    assert amount.region_amount(reading, where) == pytest.approx(9.0)
    assert amount.region_amount(reading, np.zeros((30, 30), bool)) == 0.0
