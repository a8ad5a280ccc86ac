"""BlurNet: a pure nn.Module (no I/O, no device choice, no printing) from a BlurNetConfig."""

from torch import nn

from .config import BlurNetConfig
from .decoder import Decoder
from .encoder import MobileNetV2Encoder


class BlurNet(nn.Module):
    def __init__(self, config: BlurNetConfig | None = None):
        super().__init__()
        self.config = config or BlurNetConfig()
        if self.config.encoder != "mobilenet_v2":
            raise ValueError(f"unknown encoder {self.config.encoder!r}; expected 'mobilenet_v2'")
        self.encoder = MobileNetV2Encoder()
        self.decoder = Decoder(
            self.encoder.channels,
            self.config.decoder_channels,
            self.config.ppm_bins,
            self.config.ppm_channels,
            self.config.num_classes,
            self.config.amount_head,
        )

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.config.freeze_encoder_bn:
            for m in self.encoder.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self

    def forward(self, x):
        """x: (B, 3, H, W) normalised, H and W multiples of config.stride.

        Eval: logits (B, C, H/2, W/2). Training: list of logits at strides 2, 4, 8, 16 (multi-scale loss).
        C = num_classes, plus one last channel, log(1 + blur radius in input px), with config.amount_head."""
        logits = self.decoder(self.encoder(x))
        return logits if self.training else logits[0]
