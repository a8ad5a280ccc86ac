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
