from pathlib import Path

import pytest
import torch

from blurtool.model import BlurNetConfig, create_model
from blurtool.model.encoder import MobileNetV2

IMAGENET_FILE = Path(__file__).resolve().parents[2] / ".." / "shared" / "pretrained" / "mobilenet_v2-b0353104.pth"


def test_eval_output_is_three_class_logits_at_half_resolution():
    model = create_model().eval()
    with torch.inference_mode():
        out = model(torch.randn(1, 3, 64, 96))
    assert out.shape == (1, 3, 32, 48)


def test_training_returns_four_scales_finest_first():
    model = create_model().train()
    outs = model(torch.randn(2, 3, 64, 64))
    assert [o.shape[-1] for o in outs] == [32, 16, 8, 4]
    assert all(o.shape[:2] == (2, 3) for o in outs)


def test_encoder_batchnorm_stays_frozen_in_training():
    model = create_model().train()
    bns = [m for m in model.encoder.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns)
    assert model.decoder.training


def test_decoder_has_no_batchnorm():
    # Kim et al. 2019 found batch-norm hurt in the decoder.
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in create_model().decoder.modules())


def test_small_enough_for_a_few_megabyte_file():
    n = sum(p.numel() for p in create_model().parameters())
    assert 1.5e6 < n < 4e6  # float16 on disk: under 8 MB


def test_imagenet_layout_loads_strictly_into_encoder():
    # A torchvision-layout state dict (here from a fresh MobileNetV2) loads with strict=True.
    state = MobileNetV2().state_dict()
    model = create_model()
    model.encoder.load_imagenet(state)
    key = "features.17.conv.0.0.weight"
    assert torch.equal(model.encoder.features.state_dict()[key[len("features."):]], state[key])


@pytest.mark.skipif(not IMAGENET_FILE.is_file(), reason="../shared/pretrained not present")
def test_shipped_imagenet_file_loads_strictly():
    model = create_model()
    model.encoder.load_imagenet(torch.load(IMAGENET_FILE, map_location="cpu", weights_only=True))


def test_unknown_encoder_is_rejected():
    with pytest.raises(ValueError, match="unknown encoder"):
        create_model(**{**BlurNetConfig().__dict__, "encoder": "resnet"})
