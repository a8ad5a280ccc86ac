"""Fixtures shared by the CLI tests."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "library"))
from rank_fakes import FakeDetector


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A small randomly initialised BlurNet saved as a real weights file (the plumbing is under test, not the
    network's quality)."""
    import torch

    from blurtool.model import create_model
    from blurtool.weights import save_weights

    torch.manual_seed(0)
    model = create_model("blurnet", amount_head=True)
    path = tmp_path_factory.mktemp("w") / "tiny.pt"
    save_weights(path, model, {"threshold": 0.5, "working_size": 96, "classes": ["sharp", "defocus", "motion"]})
    return path


@pytest.fixture
def fake(monkeypatch):
    """rank's network replaced by FakeDetector (the red channel is the blur map)."""
    import blurtool.cli.rank as rank_cli

    det = FakeDetector()
    monkeypatch.setattr(rank_cli, "_load_detector", lambda *a, **k: det)
    return det
