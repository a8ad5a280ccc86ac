import torch

from blurtool.train.losses import multiscale_cross_entropy, soft_dice_loss, soft_targets


def _logits_for(labels, size):
    """Logits whose softmax equals the area-averaged labels at `size` (a perfect prediction)."""
    return torch.log(soft_targets(labels, 3, size).clamp_min(1e-9))


def _labels():
    labels = torch.zeros(2, 32, 32, dtype=torch.long)
    labels[0, :8] = 2  # a small motion-blurred strip: a quarter of crop 0
    labels[1, :, :16] = 1  # half of crop 1 defocused
    return labels


def test_dice_is_zero_for_a_perfect_prediction_and_large_for_a_miss():
    labels = _labels()
    assert soft_dice_loss(_logits_for(labels, (16, 16)), labels).item() < 1e-6
    all_sharp = torch.zeros(2, 3, 16, 16)
    all_sharp[:, 0] = 20.0  # says "sharp" everywhere: misses both blurred regions
    assert soft_dice_loss(all_sharp, labels).item() > 0.5


def test_dice_weights_a_small_blurred_region_like_a_large_one():
    # Missing crop 0's quarter-size strip costs Dice as much as missing crop 1's half, unlike cross-entropy,
    # whose cost follows the number of missed pixels.
    labels = _labels()
    miss = _logits_for(labels, (16, 16)).clone()
    miss_small, miss_large = miss.clone(), miss.clone()
    miss_small[0] = torch.tensor([20.0, 0.0, 0.0]).view(3, 1, 1)
    miss_large[1] = torch.tensor([20.0, 0.0, 0.0]).view(3, 1, 1)
    d_small, d_large = soft_dice_loss(miss_small, labels).item(), soft_dice_loss(miss_large, labels).item()
    assert abs(d_small - d_large) < 0.12
    ce = [multiscale_cross_entropy([m], labels, multiscale=False).item() for m in (miss_small, miss_large)]
    assert ce[1] > 1.8 * ce[0]


def test_false_alarm_in_an_all_sharp_crop_costs():
    labels = torch.zeros(1, 32, 32, dtype=torch.long)
    blurred_everywhere = torch.zeros(1, 3, 16, 16)
    blurred_everywhere[:, 1] = 20.0
    assert soft_dice_loss(blurred_everywhere, labels).item() > 0.9
    assert soft_dice_loss(_logits_for(labels, (16, 16)), labels).item() < 1e-6


def test_dice_has_gradients():
    labels = _labels()
    logits = torch.zeros(2, 3, 16, 16, requires_grad=True)
    soft_dice_loss(logits, labels).backward()
    assert logits.grad.abs().sum() > 0


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
    changed_dice = changed[0].clone()
    assert torch.allclose(soft_dice_loss(changed_dice, ignored), soft_dice_loss(logits[0], ignored), atol=1e-6)
