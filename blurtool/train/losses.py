"""Training losses: multi-scale cross-entropy (Kim et al. 2019) and a per-crop soft Dice. Pixels labelled IGNORE
(blur that left no visible trace, see blurtool.train.synth) take no part in either."""

import torch
import torch.nn.functional as F

from .synth import IGNORE


def soft_targets(labels: torch.Tensor, num_classes: int, size) -> torch.Tensor:
    """Class fractions of each output cell: the one-hot labels area-averaged down to `size`, so a coarse cell on a
    sharp/blurred boundary is taught the mixture it actually covers instead of one arbitrary nearest pixel. IGNORE
    pixels count for no class, so a cell's fractions sum to its share of labelled pixels."""
    valid = labels != IGNORE
    onehot = F.one_hot(torch.where(valid, labels, 0), num_classes).permute(0, 3, 1, 2).float()
    onehot = onehot * valid[:, None].float()
    return F.adaptive_avg_pool2d(onehot, size)


def multiscale_cross_entropy(logits: list, labels: torch.Tensor, multiscale: bool = True) -> torch.Tensor:
    """Sum over decoder scales of the per-pixel mean cross-entropy over labelled pixels. Taking the mean at each scale
    weights each scale inversely to its pixel count (Kim et al.), so the coarse heads are not drowned by the fine one."""
    scales = logits if multiscale else logits[:1]
    total = 0.0
    for out in scales:
        target = soft_targets(labels, out.shape[1], out.shape[-2:])
        labelled = target.sum().clamp_min(1e-6)  # the labelled share of the cells, summed
        total = total + torch.sum(-target * F.log_softmax(out.float(), dim=1)) / labelled
    return total


def soft_dice_loss(logits: torch.Tensor, labels: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - mean soft Dice of the two binary classes (blurred = defocus or motion, and sharp), per crop, then averaged.

    Cross-entropy weights pixels: a crop whose blurred object covers 5 % of it teaches the blurred class little. The
    benchmark's F1 and mIoU are computed per image and then averaged, so a small blurred object counts as much as a
    large one; a per-crop Dice weights crops the same way. `eps` keeps a crop without blurred pixels defined: there
    the blurred-class term is eps / (sum of predicted blur + eps), so every false alarm in an all-sharp crop costs.
    """
    target = soft_targets(labels, logits.shape[1], logits.shape[-2:])
    labelled = target.sum(1)  # each cell's labelled share: predictions on IGNORE pixels do not count
    probs = F.softmax(logits.float(), dim=1) * labelled[:, None]
    p_blur, t_blur = labelled - probs[:, 0], labelled - target[:, 0]
    total = 0.0
    for p, t in ((p_blur, t_blur), (probs[:, 0], target[:, 0])):
        inter = (p * t).flatten(1).sum(1)
        denom = p.flatten(1).sum(1) + t.flatten(1).sum(1)
        total = total + (1.0 - (2.0 * inter + eps) / (denom + eps)).mean()
    return total / 2.0
