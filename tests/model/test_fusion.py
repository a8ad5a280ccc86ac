import torch
from torch import nn

from blurtool.model import create_model
from blurtool.model.fusion import fuse_conv_bn


def _with_trained_statistics(model: nn.Module) -> nn.Module:
    """Batch norms with statistics and affine parameters far from the identity, so folding them is not a no-op."""
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.5)
            m.running_var.copy_(torch.rand(c, generator=g) * 2 + 0.1)
            m.weight.data.copy_(torch.randn(c, generator=g))
            m.bias.data.copy_(torch.randn(c, generator=g))
    return model


def test_every_batch_norm_is_folded_and_the_outputs_stay_the_same():
    model = _with_trained_statistics(create_model(amount_head=True)).eval()
    fused = fuse_conv_bn(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    x = torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        want, got = model(x), fused(x)
    assert want.shape == (1, 4, 32, 48)  # three classes and the amount
    assert torch.allclose(want, got, atol=1e-4, rtol=1e-4)


def test_the_model_handed_over_is_left_as_it_was():
    model = create_model().train()
    before = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    fused = fuse_conv_bn(model)
    assert fused is not model and not fused.training
    assert before > 0 and sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == before
    assert model.decoder.training  # still training: fusion works on a copy
