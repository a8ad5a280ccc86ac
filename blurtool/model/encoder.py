"""MobileNetV2 written in plain PyTorch with torchvision's module layout (features.N...), so torchvision's ImageNet
state_dict loads with strict=True without depending on torchvision (which breaks beside the local CPU torch build)."""

from torch import nn

# (expand ratio t, output channels c, repeats n, first stride s) — Sandler et al. 2018, Table 2.
INVERTED_RESIDUAL_SETTING = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]
# Indices into `features` whose outputs feed the decoder: strides 2, 4, 8, 16, 32.
SKIP_INDICES = (1, 3, 6, 13, 17)
SKIP_CHANNELS = (16, 24, 32, 96, 320)


class ConvBNReLU(nn.Sequential):
    def __init__(self, cin, cout, kernel=3, stride=1, groups=1):
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand_ratio):
        super().__init__()
        hidden = int(round(cin * expand_ratio))
        self.use_res_connect = stride == 1 and cin == cout
        layers = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU(cin, hidden, kernel=1))
        layers += [
            ConvBNReLU(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, 1, 0, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    """The full ImageNet classifier, used only to load the pretrained file strictly."""

    def __init__(self, num_classes=1000):
        super().__init__()
        features = [ConvBNReLU(3, 32, stride=2)]
        cin = 32
        for t, c, n, s in INVERTED_RESIDUAL_SETTING:
            for i in range(n):
                features.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        features.append(ConvBNReLU(cin, 1280, kernel=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))


class MobileNetV2Encoder(nn.Module):
    """features[0..17] of MobileNetV2 (the 1x1 conv to 1280 channels and the classifier are dropped: 0.4 M + 1.3 M
    parameters the blur map does not need). Returns the feature maps at strides 2, 4, 8, 16, 32."""

    channels = SKIP_CHANNELS

    def __init__(self):
        super().__init__()
        self.features = MobileNetV2().features[:18]

    def load_imagenet(self, state_dict):
        full = MobileNetV2()
        full.load_state_dict(state_dict, strict=True)
        self.features.load_state_dict(full.features[:18].state_dict(), strict=True)

    def forward(self, x):
        skips = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in SKIP_INDICES:
                skips.append(x)
        return skips
