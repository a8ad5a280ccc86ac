"""TrainConfig: every field is a `blurtool train` option. The CLI reads names, types, defaults and help from here,
so each default lives once."""

import os
from dataclasses import dataclass, field

# The training folders and the ImageNet encoder are looked for under $BLURTOOL_DATA, else ./data: the data is not
# part of blurtool (see docs/training.md for what each folder holds and where it comes from).
DATA_FOLDERS = ("cuhk-train", "szu-bd-train", "sharp-photos", "gopro-motion")
ENCODER_FILE = "mobilenet_v2-b0353104.pth"


def data_root() -> str:
    return os.environ.get("BLURTOOL_DATA") or "data"


def _opt(default, help: str, **kw):
    if callable(default):
        return field(default_factory=default, metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class TrainConfig:
    data: list = _opt(
        lambda: [os.path.join(data_root(), name) for name in DATA_FOLDERS],
        "Training folder, repeatable: CUHK layout (images/, gt/ with 255 = blurred; all-black masks for photos sharp "
        "everywhere) or a folder of consecutive sharp video frames (frames/) for real motion blur.",
    )
    init: list = _opt(
        list,
        "Warm-start from this blurtool weights file (the shipped one included): every tensor whose name and shape "
        "match is copied, the rest start fresh; --encoder-init is then not used. Given more than once: from the "
        "files' average, tensor by tensor (a uniform model soup of runs from one ancestor); with --steps 0 that "
        "average, validated and calibrated, is the run's weights.",
        metavar="FILE",
    )
    encoder_init: str = _opt(
        lambda: os.path.join(data_root(), ENCODER_FILE),
        "ImageNet MobileNetV2 state_dict (torchvision's file; '' trains from scratch).",
    )
    out: str = _opt(
        "runs/blurnet",
        "Run folder: train.log, history.json, last.pt (resume), best.pt (weights). Must be new or empty unless --resume.",
    )
    steps: int = _opt(
        7000, "Optimisation steps (about 0.5-1.3 s each on 2 CPU cores at batch 8, crop 256); 0: --init's average only."
    )
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
    val_share: float = _opt(
        0.1,
        "Share of each CUHK-layout folder held out for validation (stratified by kind, never trained on): 80 of CUHK's "
        "800, 38 of SZU-BD's 384, 18 of the 175 sharp photos.",
    )
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
    p_frames: float = _opt(
        0.1,
        "Share of real motion-blur samples: 5-15 consecutive frames of a frame folder averaged, labelled motion where "
        "they differ visibly from the middle frame (plain crops instead when no frame folder is given).",
    )
    motion_draws: float = _opt(
        1.0,
        "How much more often a training photo whose name says motion (CUHK's motion photos) is drawn for a crop than "
        "any other photo: the real motion photos are the ones the map gets least right; 1 = every photo alike.",
    )
    p_grey: float = _opt(0.0, "Share of samples turned to greyscale (else greyscale photos are judged worse); 0 = off.")
    amount_weight: float = _opt(
        1.0, "Weight of the blur-amount loss (L1 on log(1 + radius px)) beside the cross-entropy of the map."
    )
    multiscale_loss: bool = _opt(True, "Cross-entropy at strides 2, 4, 8 and 16 (Kim et al.); off = finest scale only.")
    resume: bool = _opt(False, "Continue from <out>/last.pt.")

    def __post_init__(self):
        # A library caller may give the one `init` file as a path; the run always holds the list.
        if isinstance(self.init, (str, os.PathLike)):
            self.init = [os.fspath(self.init)] if os.fspath(self.init) else []


# The sample kinds with a share, in the order BlurTrainingSet.sample lays them along one uniform number; the rest of
# the samples are plain crops. A new sample kind is added here and to the makers of `sample()`.
SAMPLE_SHARES = ("p_mixed", "p_sharp", "p_global", "p_frames")


def check_sample_shares(cfg: TrainConfig) -> None:
    """InputError unless the sample-kind shares are each in [0, 1] and sum to at most 1 (the rest are plain crops).

    The kinds are drawn in turn from one uniform number, so shares past 1 would silently drop the later kinds."""
    from ..errors import InputError

    shares = {name: getattr(cfg, name) for name in SAMPLE_SHARES}
    if any(not 0 <= v <= 1 for v in shares.values()) or sum(shares.values()) > 1:
        given = ", ".join(f"`{name}` {v:g}" for name, v in shares.items())
        raise InputError(f"sample shares must each be in [0, 1] and sum to at most 1 (the rest are plain crops): {given}")


# Names of the files a run folder holds: a folder with any of them is a run, never overwritten but by --resume.
RUN_FILES = ("last.pt", "best.pt", "history.json", "latest-weights.pt")

def _at_least(lo):
    return (lambda v: v >= lo), f"at least {lo:g}"


def _positive():
    return (lambda v: v > 0), "above 0"


def _share():
    return (lambda v: 0 <= v <= 1), "in [0, 1]"


def _below_one():
    return (lambda v: 0 <= v < 1), "in [0, 1)"


# Every numeric option's valid range, as (test, what the message says).
_RANGES = {
    "steps": _at_least(0),
    "max_minutes": _at_least(0),
    "batch_size": _at_least(1),
    "crop": _at_least(32),
    "working_size": _at_least(64),
    "scale_jitter": _below_one(),
    "lr": _positive(),
    "encoder_lr_mult": _at_least(0),
    "weight_decay": _at_least(0),
    "warmup_steps": _at_least(0),
    "ema_decay": _below_one(),
    "val_share": ((lambda v: 0 < v < 1), "above 0 and below 1"),
    "val_every": _at_least(1),
    "workers": _at_least(0),
    "threads": _at_least(0),
    "p_grey": _share(),
    "motion_draws": _positive(),
    "amount_weight": _at_least(0),
}


def check_config(cfg: TrainConfig) -> None:
    """InputError naming the first field that is out of range or names a missing file, before anything is written.

    Called by `train()`, so the library refuses what the CLI would. Fields are named in backticks, as every library
    error names its parameters; the CLI shows them as the options they are (`val_share` -> --val-share)."""
    from pathlib import Path

    from ..errors import InputError

    def flag(name):
        return f"`{name}`"

    for name, (ok, wanted) in _RANGES.items():
        if not ok(getattr(cfg, name)):
            raise InputError(f"{flag(name)} {getattr(cfg, name):g}: must be {wanted}")
    if cfg.crop % 32:
        raise InputError(f"`crop` {cfg.crop}: must be a multiple of 32 (the network's stride)")
    check_sample_shares(cfg)
    if not cfg.data:
        raise InputError("`data`: give at least one training folder")
    for folder in cfg.data:
        if not Path(folder).is_dir():
            raise InputError(f"{folder}: training folder not found")
    if cfg.steps == 0 and not cfg.init:
        raise InputError("`steps` 0: nothing to train and nothing to start from (0 steps averages `init` files)")
    # --init replaces the encoder initialisation.
    for name, path in [("init", p) for p in cfg.init] if cfg.init else [("encoder_init", cfg.encoder_init)]:
        if path and not Path(path).is_file():
            hint = " (give the ImageNet MobileNetV2 file, '' to train from scratch, or `init` a weights file)" \
                if name == "encoder_init" else ""
            raise InputError(f"{path}: {flag(name)} file not found{hint}")
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: `out` is a file, not a run folder")
    holds_run = out.is_dir() and any((out / f).exists() for f in RUN_FILES)
    if cfg.resume and not (out / "last.pt").is_file():
        raise InputError(f"{out}: no last.pt to resume from (`resume` continues a run started with this `out`)")
    if holds_run and not cfg.resume:
        raise InputError(f"{out}: already holds a training run; continue it with `resume` or choose a new `out`")
