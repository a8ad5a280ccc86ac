"""TrainConfig: every field is a `blurtool train` option. The CLI reads names, types, defaults and help from here,
so each default lives once."""

from dataclasses import dataclass, field


def _opt(default, help: str, **kw):
    if callable(default):
        return field(default_factory=default, metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class TrainConfig:
    data: list = _opt(lambda: ["../shared/data/cuhk-train"], "Training folder in CUHK layout (images/, gt/); repeatable.")
    encoder_init: str = _opt(
        "../shared/pretrained/mobilenet_v2-b0353104.pth", "ImageNet MobileNetV2 state_dict ('' trains from scratch)."
    )
    out: str = _opt("runs/blurnet", "Run folder: train.log, history.json, last.pt (resume), best.pt (weights).")
    steps: int = _opt(7000, "Optimisation steps (about 1.0-1.3 s each on 2 CPU cores at batch 8, crop 256).")
    max_minutes: float = _opt(0.0, "Stop (and save) after this wall time in minutes; 0 = no limit.")
    batch_size: int = _opt(8, "Crops per step.")
    crop: int = _opt(256, "Training crop side, px.")
    working_size: int = _opt(640, "Long side the network sees at inference; training scales images around it.")
    scale_jitter: float = _opt(0.25, "Random rescale in [1 - j, 1 + j] around the working size.")
    lr: float = _opt(1e-3, "Decoder learning rate (AdamW); warmup then cosine decay.")
    encoder_lr_mult: float = _opt(0.3, "Encoder learning rate = lr x this: the ImageNet encoder moves more slowly.")
    weight_decay: float = _opt(1e-4, "AdamW weight decay.")
    warmup_steps: int = _opt(100, "Linear learning-rate warmup, steps.")
    ema_decay: float = _opt(
        0.999, "Keep an exponential moving average of the weights (validated and shipped); 0 = ship the raw weights."
    )
    val_count: int = _opt(80, "Held-out validation images, stratified by kind, never trained on.")
    val_every: int = _opt(500, "Steps between validations and checkpoints.")
    seed: int = _opt(0, "Seed of the initialisation and every training sample.")
    split_seed: int = _opt(
        0,
        "Seed of the train/validation split, kept apart from --seed so that runs of different seeds hold out the same "
        "images and their scores compare.",
    )
    workers: int = _opt(2, "Data-loading processes (composites are costly to make; two keep the model fed on 2 cores).")
    threads: int = _opt(0, "Torch intra-op threads (0 = torch's default: all cores).")
    # Sample mix; the rest are plain crops of the training photos.
    p_mixed: float = _opt(
        0.3, "Share of Kim et al. Alg. 1 composites: a sharp object blurred by motion/defocus (or not) pasted on a photo."
    )
    p_sharp: float = _opt(0.1, "Share of crops from sharp regions only, labelled sharp everywhere (fixes 'sky = blurred').")
    p_global: float = _opt(0.1, "Share of sharp crops blurred as a whole by a motion or disk kernel (shake, missed focus).")
    p_receding: float = _opt(
        0.0,
        "Share of sharp crops blurred by defocus growing across them, as a plane receding out of focus (labelled "
        "defocus from a 2 px disk radius); taken from the plain crops; 0 = off.",
    )
    motion_share: float = _opt(
        0.0,
        "Share of plain crops drawn from motion-blurred photos (0 = their natural share, 236 of 800 in CUHK): motion "
        "blur is the weaker kind.",
    )
    p_grey: float = _opt(0.0, "Share of samples turned to greyscale (else greyscale photos are judged worse); 0 = off.")
    p_shake: float = _opt(
        0.0,
        "Share of synthetic motion kernels drawn as camera-shake trajectories (curved, uneven speed) instead of straight "
        "lines; 0 = lines only.",
    )
    gradient_input: bool = _opt(
        False, "Image-gradient branch (Sobel x, y, magnitude) into the finest skip (Zhang & Yan 2020); a model option."
    )
    multiscale_loss: bool = _opt(True, "Cross-entropy at strides 2, 4, 8 and 16 (Kim et al.); off = finest scale only.")
    dice_weight: float = _opt(
        0.0, "Weight of a per-crop soft Dice loss (blurred vs sharp) added to the cross-entropy; 0 = off."
    )
    resume: bool = _opt(False, "Continue from <out>/last.pt.")


# The sample kinds with a share, in the order BlurTrainingSet.sample lays them along one uniform number; the rest of
# the samples are plain crops. A new sample kind is added here and to the makers of `sample()`.
SAMPLE_SHARES = ("p_mixed", "p_sharp", "p_global", "p_receding")


def check_sample_shares(cfg: TrainConfig) -> None:
    """InputError unless the sample-kind shares are each in [0, 1] and sum to at most 1 (the rest are plain crops).

    The kinds are drawn in turn from one uniform number, so shares past 1 would silently drop the later kinds."""
    from ..errors import InputError

    shares = {name: getattr(cfg, name) for name in SAMPLE_SHARES}
    if any(not 0 <= v <= 1 for v in shares.values()) or sum(shares.values()) > 1:
        given = ", ".join(f"--{name.replace('_', '-')} {v:g}" for name, v in shares.items())
        raise InputError(f"sample shares must each be in [0, 1] and sum to at most 1 (the rest are plain crops): {given}")
