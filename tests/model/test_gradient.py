import dataclasses

import torch

from blurtool.model import BlurNetConfig, create_model
from blurtool.model.gradient import GradientBranch


def test_fresh_gradient_branch_leaves_the_output_unchanged():
    # Zero-initialised projection: switching the branch on must not disturb a model (or an ImageNet init) at start.
    torch.manual_seed(0)
    plain = create_model().eval()
    with_branch = create_model(**dataclasses.asdict(BlurNetConfig(gradient_input=True))).eval()
    with_branch.load_state_dict(plain.state_dict(), strict=False)
    x = torch.randn(1, 3, 64, 96)
    with torch.inference_mode():
        assert torch.equal(plain(x), with_branch(x))


def test_branch_sees_edges_and_not_flat_regions():
    branch = GradientBranch(out_channels=4)
    torch.nn.init.ones_(branch.project.weight)  # make the output readable
    flat = torch.zeros(1, 3, 32, 32)
    step = flat.clone()
    step[..., 16:] = 1.0  # a vertical edge at column 16
    with torch.inference_mode():
        out_flat, out_step = branch(flat), branch(step)
    assert out_flat.shape == (1, 4, 16, 16)
    # A flat image gives the same response everywhere away from the zero-padded border; an edge changes the
    # response near it only.
    inner = out_flat[..., 2:-2, 2:-2]
    assert torch.allclose(inner, inner[..., :1, :1].expand_as(inner))
    near_edge = (out_step - out_flat)[..., 6:10].abs().amax()
    far_from_edge = (out_step - out_flat)[..., :3].abs().amax()
    assert near_edge > 0 and far_from_edge == 0


def test_branch_is_off_by_default_and_its_sobel_is_not_saved():
    assert not BlurNetConfig().gradient_input
    model = create_model(**dataclasses.asdict(BlurNetConfig(gradient_input=True)))
    keys = model.state_dict().keys()
    assert any(k.startswith("gradient.") for k in keys)
    assert not any("sobel" in k for k in keys)
    assert not any(k.startswith("gradient.") for k in create_model().state_dict())
