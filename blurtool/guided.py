"""The guided filter (He et al. 2010, "Guided Image Filtering"; journal version 2013) and its fast upsampling (He & Sun
2015): an edge-aware way to bring a map computed at a small size back to a photo's full size, its edges on the
photo's edges. Written here with cv2.boxFilter because OpenCV's own lives in cv2.ximgproc (opencv-contrib, not a
dependency). numpy in, numpy out.

Two guides, chosen by the guide's shape:
  * grey (H, W): Algorithm 1 of He et al., any number of channels filtered at once. The blur map's upsampling
    (blurtool.inference) uses it: cheap, and the network's boundaries are brightness edges.
  * colour (H, W, 3): Eq. 14, the 3 x 3 colour covariance of each window, one channel filtered. A matte's edge is
    often a colour edge of little brightness contrast (a red flower on green leaves), which only a colour guide sees
    (blurtool.ops.matting, blurtool.ops.segment).

Upsampling fits the filter's linear model q = a * I + b at the small size, resizes (a, b) bilinearly and applies them
to the full-size guide, row strip by row strip if asked (`rows`), so the extra memory stays bounded however large the
photo.
"""

from __future__ import annotations

import numpy as np

# OpenCV is imported inside the functions: the CLI imports modules that import this one for their option defaults,
# and `blurtool --help` must not pay for loading OpenCV.

__all__ = ["guided_filter", "guided_upsample", "linear_coefficients", "resize_rows"]


def _box(x: np.ndarray, r: int) -> np.ndarray:
    import cv2

    out = cv2.boxFilter(x, -1, (2 * r + 1, 2 * r + 1), normalize=True, borderType=cv2.BORDER_REFLECT)
    return out.reshape(x.shape)  # OpenCV drops a trailing channel axis of length 1


def linear_coefficients(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """The box-averaged coefficients (a, b) of q = a * guide + b.

    Grey guide (h, w) with src (h, w[, C]): a and b have src's shape. Colour guide (h, w, 3) with src (h, w): a is
    (h, w, 3) (q = sum over the channels of a * guide, plus b), b is (h, w). eps: the regularisation, a variance of
    the guide's values (in [0, 1]) below which an edge is smoothed away."""
    I = guide.astype(np.float32)  # noqa: E741 - the paper's name
    p = src.astype(np.float32)
    if I.ndim == 2:
        squeeze = p.ndim == 2
        p = p[..., None] if squeeze else p
        Ic = I[..., None]
        mean_I = _box(I, radius)[..., None]
        mean_p = _box(p, radius)
        var_I = _box(I * I, radius)[..., None] - mean_I * mean_I
        a = (_box(Ic * p, radius) - mean_I * mean_p) / (var_I + eps)
        b = mean_p - a * mean_I
        a, b = _box(a, radius), _box(b, radius)
        return (a[..., 0], b[..., 0]) if squeeze else (a, b)
    if I.ndim != 3 or I.shape[2] != 3 or p.ndim != 2:
        raise ValueError(f"guided filter: a grey (H, W) or colour (H, W, 3) guide, got {I.shape} with src {p.shape}")
    mean_I = _box(I, radius)
    mean_p = _box(p, radius)
    cov_Ip = _box(I * p[..., None], radius) - mean_I * mean_p[..., None]
    # Covariance of the guide's colour in each window, plus eps on the diagonal.
    sigma = np.empty(I.shape[:2] + (3, 3), np.float32)
    for i in range(3):
        for j in range(i, 3):
            v = _box(I[..., i] * I[..., j], radius) - mean_I[..., i] * mean_I[..., j]
            sigma[..., i, j] = v
            sigma[..., j, i] = v
    sigma += eps * np.eye(3, dtype=np.float32)
    a = np.linalg.solve(sigma, cov_Ip[..., None])[..., 0]
    b = mean_p - np.einsum("hwc,hwc->hw", a, mean_I)
    return _box(a, radius), _box(b, radius)


def _apply(a: np.ndarray, b: np.ndarray, guide: np.ndarray) -> np.ndarray:
    """q = a * guide + b for a grey guide (a of src's shape), or sum_c a_c * guide_c + b for a colour guide."""
    if guide.ndim == 2:
        return a * (guide[..., None] if a.ndim == 3 else guide) + b
    out = b.copy()
    for c in range(3):  # channel by channel: no (H, W, 3) temporary at 12 MP
        out += a[..., c] * guide[..., c]
    return out


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Edge-preserving smoothing of `src` following the edges of `guide` (grey or colour, see the module), float32."""
    a, b = linear_coefficients(guide, src, radius, eps)
    return _apply(a, b, guide.astype(np.float32)).astype(np.float32)


def resize_rows(low: np.ndarray, out_rows: slice, out_h: int, out_w: int) -> np.ndarray:
    """Rows `out_rows` of cv2.resize(low, (out_w, out_h), INTER_LINEAR), without building the full-size array."""
    import cv2

    h = low.shape[0]
    y = np.arange(out_rows.start, out_rows.stop, dtype=np.float64)
    src = np.clip((y + 0.5) * (h / out_h) - 0.5, 0, h - 1)  # OpenCV's half-pixel-centre convention
    y0 = np.floor(src).astype(np.intp)
    y1 = np.minimum(y0 + 1, h - 1)
    wy = (src - y0).astype(np.float32).reshape(-1, *([1] * (low.ndim - 1)))
    rows = low[y0] * (1 - wy) + low[y1] * wy
    out = cv2.resize(rows, (out_w, rows.shape[0]), interpolation=cv2.INTER_LINEAR)
    return out.reshape(rows.shape[0], out_w, *low.shape[2:])


def guided_upsample(
    low: np.ndarray,
    low_guide: np.ndarray,
    guide: np.ndarray,
    *,
    radius: int,
    eps: float,
    rows: slice | None = None,
) -> np.ndarray:
    """`low` (h, w[, C]) brought to the size of `guide` (H, W) grey or (H, W, 3) colour, float in [0, 1], edge-aware.

    low_guide: the guide at (h, w). radius, eps: of the filter at (h, w). Returns rows `rows` (default all) of the
    full-size result, float32, not clipped (a colour guide takes a one-channel `low`)."""
    a, b = linear_coefficients(low_guide, low, radius, eps)
    H, W = guide.shape[:2]
    rows = rows or slice(0, H)
    return _apply(resize_rows(a, rows, H, W), resize_rows(b, rows, H, W), guide[rows].astype(np.float32))
