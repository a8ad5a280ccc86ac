"""The example script and photos work: run examples/api_example.py as a user would (separate process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from blurtool.io import read_image

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PHOTOS = ["dandelion.jpg", "mountains.jpg", "dogs_shaken.jpg"]


@pytest.mark.parametrize("name", PHOTOS)
def test_example_photos_are_credited_and_readable(name):
    assert name in (EXAMPLES / "CREDITS.md").read_text()
    image = read_image(EXAMPLES / name)
    assert max(image.shape[:2]) == 1024 and image.shape[2] == 3
    assert (EXAMPLES / name).stat().st_size < 500_000


def _weights_env(tmp_path) -> dict:
    """The shipped model when present; otherwise a randomly initialised one (the script's plumbing is under test)."""
    from blurtool.weights import default_weights_path

    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if not default_weights_path().is_file() and "BLURTOOL_WEIGHTS" not in env:
        import torch

        from blurtool.model import create_model
        from blurtool.weights import save_weights

        torch.manual_seed(0)
        path = tmp_path / "random.pt"
        save_weights(path, create_model("blurnet"), {"threshold": 0.5, "working_size": 128})
        env["BLURTOOL_WEIGHTS"] = str(path)
    return env


def test_api_example_runs(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "api_example.py"), str(EXAMPLES / "dandelion.jpg"), str(out)],
        capture_output=True, text=True, env=_weights_env(tmp_path), timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "dandelion.jpg: 1024 x 576 px" in proc.stdout and "blurred" in proc.stdout
    assert read_image(out / "dandelion.blur.png").shape == (576, 1024, 3)
    assert (out / "dandelion.kind.png").exists()
