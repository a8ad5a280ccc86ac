"""The checks at the library's public entry points, each raising InputError that says what was expected and what
was got: one wording for every function that takes a photo or a map (the contract of ARCHITECTURE: an image is RGB
(H, W, 3), a map (H, W) of the photo's size). numpy only."""

from __future__ import annotations

import numpy as np

from .errors import InputError


def _shape(a) -> object:
    return getattr(a, "shape", type(a).__name__)


def check_image(image, what: str = "image") -> np.ndarray:
    """`image` as an array, InputError unless it is an RGB (H, W, 3) array."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"expected an RGB {what} of shape (H, W, 3), got {_shape(image)}")
    return image


def check_map(a, what: str = "blur map", shape: tuple[int, ...] | None = None) -> np.ndarray:
    """`a` as an array, InputError unless it is (H, W), and of `shape` (the photo's (H, W)) when given."""
    if not isinstance(a, np.ndarray):
        a = np.asarray(a)
    if a.ndim != 2:
        raise InputError(f"expected a {what} of shape (H, W), got {_shape(a)}")
    if shape is not None and a.shape != tuple(shape[:2]):
        raise InputError(
            f"the {what} is {a.shape[1]}x{a.shape[0]} but the photo is {shape[1]}x{shape[0]}; "
            "they must be the same size"
        )
    return a


def check_image_and_map(image, blur, what: str = "blur map") -> None:
    """InputError unless `image` is RGB (H, W, 3), at least 2 x 2, and `blur` an (H, W) map of its size."""
    check_image(image)
    if not isinstance(blur, np.ndarray):
        raise InputError(f"expected a {what} of shape (H, W), got {_shape(blur)}")
    check_map(blur, what, image.shape)
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise InputError(f"the photo is too small ({image.shape[1]}x{image.shape[0]})")
