"""BlurNetConfig: everything that decides the network's shape. Saved inside every weights file."""

from dataclasses import dataclass, field


@dataclass
class BlurNetConfig:
    # Encoder: MobileNetV2 (torchvision key layout) so ImageNet weights load with strict=True.
    encoder: str = "mobilenet_v2"
    # Decoder width at strides 16, 8, 4, 2 (the bottleneck sits at stride 32).
    decoder_channels: tuple = (128, 96, 64, 32)
    # Pyramid pooling at the bottleneck (Zhang et al. 2018 pool 1x1, 2x2, 3x3, 6x6): global context for flat sky/skin/walls.
    ppm_bins: tuple = (1, 2, 3, 6)
    ppm_channels: int = 32
    num_classes: int = 3  # 0 sharp, 1 defocus, 2 motion (Kim et al. 2019)
    # One more output channel per decoder stage: the blur amount, log(1 + radius in px at the network's input scale)
    # (radius of a disk, half the length of a motion streak). Off in files trained before it existed.
    amount_head: bool = False
    # Kim et al. found batch-norm hurt in the decoder; the encoder keeps its ImageNet BN frozen in eval mode because a
    # CPU batch of 8 crops gives noisy batch statistics.
    freeze_encoder_bn: bool = True
    stride: int = 32  # input H and W must be multiples of this
    output_stride: int = 2  # logits come out at H/2, W/2
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        # JSON round-trips turn tuples into lists; keep them hashable and comparable.
        self.decoder_channels = tuple(self.decoder_channels)
        self.ppm_bins = tuple(self.ppm_bins)
