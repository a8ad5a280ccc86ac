"""Image-gradient input branch (Zhang & Yan 2020 feed image gradients to their real-time U-Net and lose 0.009 F on
CUHK without them). The MobileNetV2 stem sees gradients only through ImageNet-trained filters at stride 2; this branch
hands the decoder's finest skip the photo's own gradient field (x, y and magnitude of the luminance, Sobel) at
stride 2. Its last 1x1 convolution starts at zero, so a fresh model behaves exactly like one without the branch and
the branch earns its influence during training."""

import torch
import torch.nn.functional as F
from torch import nn


class GradientBranch(nn.Module):
    def __init__(self, out_channels: int, hidden: int = 16):
        super().__init__()
        sobel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0
        kernels = torch.stack([sobel_x, sobel_x.t()]).unsqueeze(1)  # (2, 1, 3, 3)
        # A fixed operator, not a learned weight: kept out of the state dict so weights files stay the same shape.
        self.register_buffer("sobel", kernels, persistent=False)
        self.convs = nn.Sequential(
            nn.Conv2d(3, hidden, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, hidden, 3, padding=1),
            nn.ReLU(inplace=True),
        )
        self.project = nn.Conv2d(hidden, out_channels, 1)
        nn.init.zeros_(self.project.weight)
        nn.init.zeros_(self.project.bias)

    def forward(self, x):
        """x: the normalised photo (B, 3, H, W) -> features (B, out_channels, H/2, W/2) to add to the stride-2 skip."""
        # Normalisation is affine per channel, so the channel mean has the luminance's gradients up to a scale.
        grey = x.mean(dim=1, keepdim=True)
        g = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), self.sobel.to(grey.dtype))
        magnitude = torch.sqrt(g.pow(2).sum(dim=1, keepdim=True) + 1e-6)
        return self.project(self.convs(torch.cat([g, magnitude], dim=1)))
