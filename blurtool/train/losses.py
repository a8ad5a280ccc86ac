"""Training loss: multi-scale cross-entropy (Kim et al. 2019), plus, for a network with an amount channel, a
multi-scale L1 loss on log(1 + blur radius). Pixels labelled IGNORE (blur that left no visible trace, see
blurtool.train.synth) take no part in the cross-entropy, pixels of unknown amount (NaN) none in the amount loss.
(A per-crop soft Dice beside it did not pay: docs/training.md.)"""

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


# An output cell is taught an amount when at least this share of its pixels has a known one.
AMOUNT_KNOWN_SHARE = 0.5


def multiscale_amount_l1(logits: list, amount: torch.Tensor, multiscale: bool = True) -> torch.Tensor:
    """Sum over decoder scales of the mean |predicted - true| log(1 + radius px) over cells of known amount. The
    target of a coarse cell is the mean of its known pixels' log amounts; its radius is in input px, so the same
    blur reads the same at every scale. The log makes an error of one pixel matter more on a slight blur than on a
    heavy one, as it does to the eye."""
    scales = logits if multiscale else logits[:1]
    known = ~torch.isnan(amount)
    target = torch.where(known, torch.log1p(amount.clamp_min(0)), torch.zeros_like(amount))[:, None]
    known = known[:, None].float()
    total = 0.0
    for out in scales:
        size = out.shape[-2:]
        share = F.adaptive_avg_pool2d(known, size)
        cell_target = F.adaptive_avg_pool2d(target * known, size) / share.clamp_min(1e-6)
        taught = (share >= AMOUNT_KNOWN_SHARE).float()
        error = torch.abs(out[:, -1:].float() - cell_target) * taught
        total = total + error.sum() / taught.sum().clamp_min(1.0)
    return total
