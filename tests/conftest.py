import cv2
import numpy as np
import pytest


@pytest.fixture
def cuhk_folder(tmp_path):
    """A tiny folder in CUHK layout: textured photos whose right half is blurred (disk or motion), masks 255 there."""
    rng = np.random.default_rng(0)
    root = tmp_path / "cuhk"
    (root / "images").mkdir(parents=True)
    (root / "gt").mkdir()
    for i, stem in enumerate(["motion0001", "motion0002", "out_of_focus0001", "out_of_focus0002", "out_of_focus0003"]):
        img = (rng.random((96, 128, 3)) * 255).astype(np.uint8)
        img = cv2.resize(cv2.resize(img, (32, 24)), (128, 96), interpolation=cv2.INTER_NEAREST)
        blurred = cv2.blur(img, (9, 1)) if stem.startswith("motion") else cv2.GaussianBlur(img, (0, 0), 3)
        img[:, 64:] = blurred[:, 64:]
        gt = np.zeros((96, 128), np.uint8)
        gt[:, 64:] = 255
        cv2.imwrite(str(root / "images" / f"{stem}.jpg"), img)
        if i == 4:  # some CUHK masks are RGBA
            gt = cv2.cvtColor(gt, cv2.COLOR_GRAY2BGRA)
        cv2.imwrite(str(root / "gt" / f"{stem}.png"), gt)
    return root
