"""blurtool.cuhk: the one reader of CUHK-layout folders (eval and train), its extension, mask and name rules."""

import cv2
import numpy as np
import pytest

from blurtool.cuhk import kind_from_name, list_samples, read_gt
from blurtool.errors import InputError
from blurtool.kinds import KIND_NAMES, Kind


def _folder(root, names):
    """images/<stem>.<ext> for each name, and a mask gt/<stem>.png unless the name says otherwise ('stem.jpg:bmp')."""
    (root / "images").mkdir(parents=True)
    (root / "gt").mkdir()
    for name in names:
        image, _, mask_ext = name.partition(":")
        cv2.imwrite(str(root / "images" / image), np.zeros((4, 6, 3), np.uint8))
        stem = image.rsplit(".", 1)[0]
        cv2.imwrite(str(root / "gt" / f"{stem}.{mask_ext or 'png'}"), np.zeros((4, 6), np.uint8))
    return root


def test_kind_comes_from_the_name():
    assert kind_from_name("motion0042") is Kind.MOTION and kind_from_name("Motion_szu_1") is Kind.MOTION
    assert kind_from_name("out_of_focus0001") is Kind.DEFOCUS
    assert kind_from_name("holiday") is None and kind_from_name("urban_003") is None
    assert KIND_NAMES == ("sharp", "defocus", "motion") and Kind.MOTION == 2


def test_pairs_sorted_with_their_kind_any_photo_format_and_mask_format(tmp_path):
    root = _folder(tmp_path, ["out_of_focus0002.png", "motion0001.jpg:bmp", "urban_001.webp:tif"])
    (root / "images" / ".hidden.jpg").write_bytes(b"")
    (root / "images" / "notes.txt").write_text("not a photo")
    samples = list_samples(root)
    assert [s.stem for s in samples] == ["motion0001", "out_of_focus0002", "urban_001"]
    assert [s.gt.suffix for s in samples] == [".bmp", ".png", ".tif"]
    assert [s.group for s in samples] == ["motion", "defocus", None]
    assert [s.stem for s in list_samples(root, ["urban_001", "motion0001"])] == ["motion0001", "urban_001"]


@pytest.mark.parametrize(
    "breakage, message",
    [
        ("missing", "folder not found"),
        ("file", "is not a folder"),
        ("no_gt_dir", "no gt/ folder"),
        ("no_images", "no images"),
        ("no_mask", "no ground-truth mask for 1 image"),
        ("same_stem", "two files share the name"),
        ("not_there", "1 requested image"),
    ],
)
def test_bad_folders_are_one_clear_error(tmp_path, breakage, message):
    root = _folder(tmp_path / "set", ["motion0001.jpg", "motion0002.jpg"])
    stems = None
    if breakage == "missing":
        root = tmp_path / "nowhere"
    elif breakage == "file":
        root = root / "images" / "motion0001.jpg"
    elif breakage == "no_gt_dir":
        for p in (root / "gt").iterdir():
            p.unlink()
        (root / "gt").rmdir()
    elif breakage == "no_images":
        for p in (root / "images").iterdir():
            p.unlink()
    elif breakage == "no_mask":
        (root / "gt" / "motion0002.png").unlink()
    elif breakage == "same_stem":
        cv2.imwrite(str(root / "images" / "motion0001.png"), np.zeros((4, 6, 3), np.uint8))
    elif breakage == "not_there":
        stems = ["motion0009"]
    with pytest.raises(InputError, match=message):
        list_samples(root, stems)


def test_masks_are_blurred_above_127_and_rgba_masks_read_as_grayscale(tmp_path):
    g = np.array([[0, 127, 128, 255]], np.uint8)
    cv2.imwrite(str(tmp_path / "grey.png"), g)
    cv2.imwrite(str(tmp_path / "rgba.png"), cv2.cvtColor(g, cv2.COLOR_GRAY2BGRA))
    for name in ("grey.png", "rgba.png"):
        m = read_gt(tmp_path / name)
        assert m.dtype == bool and m.tolist() == [[False, False, True, True]]
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="not a readable mask"):
        read_gt(tmp_path / "bad.png")
