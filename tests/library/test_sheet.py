"""blurtool.library.sheet (contact sheets as an image and as HTML), from records of a fake detector."""

import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from rank_fakes import FakeDetector, library

from blurtool.library import rank_photos, sort_records
from blurtool.library.sheet import Tile, render_sheet, write_sheet


def test_contact_sheet_image_and_html(tmp_path):
    run = rank_photos(list(library(tmp_path / "lib").values()), FakeDetector())
    tiles = [
        Tile(np.full((30, 40, 3), 128, np.uint8), r.mini, f"#{i + 1} S={r.scores.degree:.2f}", r.verdict.value,
             r.path.name)
        for i, r in enumerate(sort_records(run.records))
    ]
    sheet = render_sheet(tiles, columns=3, thumb=64)
    assert sheet.dtype == np.uint8 and sheet.shape[1] == 3 * (64 + 12) and sheet.shape[0] == 2 * (64 + 12 + 32)
    assert write_sheet(tmp_path / "s.jpg", tiles, columns=3, thumb=64) == 4
    assert cv2.imread(str(tmp_path / "s.jpg")).shape == sheet.shape
    write_sheet(tmp_path / "s.html", tiles, thumb=64)
    text = (tmp_path / "s.html").read_text()
    assert text.count("<figure") == 4 and "bad-blur" in text and "data:image/jpeg;base64," in text
