"""blurtool.checks: one wording for a bad photo or map at every public entry point."""

import numpy as np
import pytest

from blurtool.checks import check_image, check_image_and_map, check_map
from blurtool.errors import InputError


def test_photos_and_maps_are_checked_with_what_was_expected_and_what_was_got():
    photo = np.zeros((4, 6, 3), np.float32)
    assert check_image(photo) is photo
    with pytest.raises(InputError, match=r"expected an RGB image of shape \(H, W, 3\), got \(4, 6\)"):
        check_image(photo[..., 0])
    with pytest.raises(InputError, match="got list"):
        check_image([[0.0]])
    assert check_map([[0, 1]]).shape == (1, 2)
    with pytest.raises(InputError, match=r"the kind map is 5x4 but the photo is 6x4"):
        check_map(np.zeros((4, 5)), "kind map", photo.shape)
    check_image_and_map(photo, np.zeros((4, 6), np.float32))
    with pytest.raises(InputError, match="too small"):
        check_image_and_map(photo[:1], np.zeros((1, 6), np.float32))
