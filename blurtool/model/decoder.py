"""Decoder of BlurNet: pyramid pooling at the bottleneck, then upsampling stages whose long skips are fused by a 1x1
convolution and element-wise SUM (Kim et al. 2019: summation, unlike concatenation, forces the contextual features to
contribute), no batch-norm (Kim et al. found it hurt), one 3-class head per stage for the multi-scale loss, and
optionally one blur-amount channel per stage beside it (a separate 1x1 convolution, so a file trained without it
warm-starts every class head unchanged)."""

import torch
import torch.nn.functional as F
from torch import nn


def separable(channels):
    """Depthwise 3x3 + pointwise 1x1: most of a 3x3 conv's receptive field for ~1/8 of its cost on a CPU."""
    return nn.Sequential(
        nn.Conv2d(channels, channels, 3, padding=1, groups=channels),
        nn.Conv2d(channels, channels, 1),
        nn.ReLU(inplace=True),
    )


class PyramidPooling(nn.Module):
    """Zhang et al. 2018 / PSPNet pyramid pooling: context of the whole frame for homogeneous regions."""

    def __init__(self, cin, cout, bins, branch_channels):
        super().__init__()
        self.bins = bins
        self.branches = nn.ModuleList(
            nn.Sequential(nn.Conv2d(cin, branch_channels, 1), nn.ReLU(inplace=True)) for _ in bins
        )
        self.fuse = nn.Sequential(
            nn.Conv2d(cin + branch_channels * len(bins), cout, 3, padding=1), nn.ReLU(inplace=True)
        )

    def forward(self, x):
        size = x.shape[-2:]
        pooled = [
            F.interpolate(branch(F.adaptive_avg_pool2d(x, b)), size=size, mode="bilinear", align_corners=False)
            for b, branch in zip(self.bins, self.branches)
        ]
        return self.fuse(torch.cat([x, *pooled], dim=1))


class UpStage(nn.Module):
    def __init__(self, cin, skip_channels, cout, num_classes, amount_head=False):
        super().__init__()
        self.project_up = nn.Conv2d(cin, cout, 1)
        self.project_skip = nn.Conv2d(skip_channels, cout, 1)
        self.refine = nn.Sequential(separable(cout), separable(cout))
        self.head = nn.Conv2d(cout, num_classes, 1)
        self.amount = nn.Conv2d(cout, 1, 1) if amount_head else None

    def forward(self, x, skip):
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        x = F.relu(self.project_up(x) + self.project_skip(skip))
        x = self.refine(x)
        out = self.head(x)
        if self.amount is not None:
            out = torch.cat([out, self.amount(x)], dim=1)
        return x, out


class Decoder(nn.Module):
    def __init__(self, skip_channels, decoder_channels, ppm_bins, ppm_channels, num_classes, amount_head=False):
        super().__init__()
        *lower, bottleneck = skip_channels  # strides 2, 4, 8, 16 and 32
        self.ppm = PyramidPooling(bottleneck, decoder_channels[0], ppm_bins, ppm_channels)
        stages = []
        cin = decoder_channels[0]
        for skip_c, cout in zip(reversed(lower), decoder_channels):
            stages.append(UpStage(cin, skip_c, cout, num_classes, amount_head))
            cin = cout
        self.stages = nn.ModuleList(stages)

    def forward(self, skips):
        *lower, x = skips
        x = self.ppm(x)
        logits = []
        for stage, skip in zip(self.stages, reversed(lower)):
            x, out = stage(x, skip)
            logits.append(out)
        return logits[::-1]  # finest (stride 2) first
