import torch

from blurtool.train.losses import multiscale_cross_entropy, soft_targets


def _logits_for(labels, size):
    """Logits whose softmax equals the area-averaged labels at `size` (a perfect prediction)."""
    return torch.log(soft_targets(labels, 3, size).clamp_min(1e-9))


def _labels():
    labels = torch.zeros(2, 32, 32, dtype=torch.long)
    labels[0, :8] = 2  # a small motion-blurred strip: a quarter of crop 0
    labels[1, :, :16] = 1  # half of crop 1 defocused
    return labels


def test_a_perfect_prediction_costs_least_and_a_miss_costs_more():
    labels = _labels()
    perfect = multiscale_cross_entropy([_logits_for(labels, (16, 16))], labels, multiscale=False).item()
    all_sharp = torch.zeros(2, 3, 16, 16)
    all_sharp[:, 0] = 20.0  # says "sharp" everywhere: misses both blurred regions
    assert multiscale_cross_entropy([all_sharp], labels, multiscale=False).item() > perfect + 1.0


def test_the_loss_has_gradients_at_every_scale():
    labels = _labels()
    logits = [torch.zeros(2, 3, 16, 16, requires_grad=True), torch.zeros(2, 3, 8, 8, requires_grad=True)]
    multiscale_cross_entropy(logits, labels).backward()
    assert all(t.grad.abs().sum() > 0 for t in logits)


def test_ignored_pixels_take_no_part_in_the_loss():
    from blurtool.train.synth import IGNORE

    labels = _labels()
    logits = [torch.randn(2, 3, 16, 16), torch.randn(2, 3, 8, 8)]
    ignored = labels.clone()
    ignored[:, 16:] = IGNORE  # the bottom half of both crops leaves the loss
    base = multiscale_cross_entropy(logits, ignored)
    changed = [t.clone() for t in logits]
    changed[0][:, :, 8:] = torch.randn(2, 3, 8, 16) * 5  # other predictions where the labels are ignored
    changed[1][:, :, 4:] = torch.randn(2, 3, 4, 8) * 5
    assert torch.allclose(multiscale_cross_entropy(changed, ignored), base)
    # With nothing ignored it is the plain per-cell mean cross-entropy.
    target = soft_targets(labels, 3, (16, 16))
    plain = torch.sum(-target * torch.log_softmax(logits[0], 1), 1).mean()
    assert torch.allclose(multiscale_cross_entropy(logits[:1], labels), plain)
