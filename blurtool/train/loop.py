"""The training loop: seeded, checkpointed every validation, resumable, with a wall-time budget.

Runs on the CPU (2 cores: 1 data worker + torch threads) or on CUDA with autocast when present."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import time
from pathlib import Path

import numpy as np

from ..device import autocast as device_autocast
from ..errors import InputError
from ..kinds import KIND_NAMES
from ..weights import IMAGENET_NORMALISATION, save_weights, sha256_of
from .config import TrainConfig, check_config
from .data import BlurTrainingSet, load_training_folders, split_train_val

DEFAULT_THRESHOLD = 0.5  # blur = 1 - p(sharp) > 0.5: the argmax decision between sharp and blurred


def _log(log_file, message: str, console=None):
    line = time.strftime("%H:%M:%S ") + message
    if console is not None:
        console.print(line)
    with open(log_file, "a") as f:
        f.write(line + "\n")


def split_by_folder(examples, val_share: float, seed: int) -> tuple[list, list]:
    """(training, validation) examples: each folder holds out its own `val_share`, stratified by kind, so every kind
    of photo is validated and adding a folder never moves another folder's split."""
    by_source: dict[str, list] = {}
    for ex in examples:
        by_source.setdefault(ex.source, []).append(ex)
    train_examples, val_examples = [], []
    for source, group in by_source.items():
        n_val = int(round(val_share * len(group)))
        if n_val < 1 or n_val >= len(group):
            raise InputError(
                f"{source}: {len(group)} image(s) cannot be split at `val_share` {val_share:g} "
                f"({n_val} for validation); give it more images or another `val_share`"
            )
        _, val_stems = split_train_val([e.stem for e in group], n_val, seed)
        val_set = set(val_stems)
        train_examples += [e for e in group if e.stem not in val_set]
        val_examples += [e for e in group if e.stem in val_set]
    return train_examples, val_examples


def warm_start(model, paths) -> tuple[list[dict], list[str]]:
    """Copy into `model` every tensor whose name and shape match in the weights file(s) at `paths` (one path or a
    list); returns the files' cards and the names of the tensors that start fresh (a new or reshaped head).

    Several files are averaged tensor by tensor first: a uniform "model soup" (Wortsman et al., ICML 2022), which for
    runs fine-tuned from one ancestor lands between their minima and measures better than either (docs/training.md,
    stage 9). Files of different architectures cannot be averaged: InputError."""
    from ..weights import load_weights

    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    loaded = [load_weights(p) for p in paths]
    states = [m.state_dict() for m, _ in loaded]
    for p, st in zip(paths[1:], states[1:]):
        if {k: v.shape for k, v in st.items()} != {k: v.shape for k, v in states[0].items()}:
            raise InputError(f"{p}: `init` files of different architectures cannot be averaged ({paths[0]} differs)")
    # Float tensors are averaged; counters (BatchNorm's num_batches_tracked) are the first file's.
    theirs = {k: sum(st[k] for st in states) / len(states) if v.is_floating_point() else v
              for k, v in states[0].items()}
    own = model.state_dict()
    copied = {k: v for k, v in theirs.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict({**own, **copied})
    return [card for _, card in loaded], [k for k in own if k not in copied]


def predict_probs(model, image_u8: np.ndarray, working_size: int, mean, std, device="cpu"):
    """(class probabilities HxWx3, blur amount HxW in working-scale px or None) at the image's size, network run at
    `working_size` (validation only: plain bilinear upsampling; the product path is blurtool.inference.BlurDetector)."""
    import cv2
    import torch
    import torch.nn.functional as F

    h, w = image_u8.shape[:2]
    f = working_size / max(h, w)
    nh, nw = max(32, int(round(h * f))), max(32, int(round(w * f)))
    img = cv2.resize(image_u8, (nw, nh), interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    x = (img.astype(np.float32) / 255.0 - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    ph, pw = (-nh) % 32, (-nw) % 32
    x = torch.from_numpy(x.transpose(2, 0, 1)[None].copy()).to(device)
    x = F.pad(x, (0, pw, 0, ph), mode="reflect")
    classes = model.config.num_classes
    with torch.inference_mode():
        out = model(x)[..., : (nh + 1) // 2, : (nw + 1) // 2].float()
        out = F.interpolate(out, size=(h, w), mode="bilinear", align_corners=False)
        probs = out[:, :classes].softmax(1)[0].permute(1, 2, 0).cpu().numpy()
        amount = torch.expm1(out[0, classes].clamp_min(0)).cpu().numpy() if out.shape[1] > classes else None
    return probs, amount


def validate_amount(model, examples, working_size, mean, std, device="cpu", max_images: int = 8) -> dict:
    """The progressive-blur amount benchmark (metrics.progressive_case) on up to `max_images` validation photos that
    are sharp everywhere, each at the working size, read where the sharp photo is textured (a flat sky shows no blur
    whatever its amount). The same benchmark as `blurtool eval --amount`, on the raw network."""
    import cv2

    from ..amount import to_reference
    from .metrics import progressive_amount_scores, progressive_case
    from .synth import textured

    if not getattr(model.config, "amount_head", False):
        return {}
    cases = []
    for ex in [ex for ex in examples if not (ex.labels > 0).any()][:max_images]:
        h, w = ex.labels.shape
        f = working_size / max(h, w)
        img = cv2.resize(ex.image, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
        img = img.astype(np.float32) / 255.0
        where = textured(img)
        unit = float(to_reference(1.0, max(img.shape[:2])))

        def estimate(blurred, unit=unit):
            u8 = (np.clip(blurred, 0, 1) * 255 + 0.5).astype(np.uint8)
            return predict_probs(model, u8, working_size, mean, std, device)[1] * unit

        if where.any():
            cases.append(progressive_case(img, where, estimate, unit))
    scores = progressive_amount_scores(cases) if cases else {}
    return {k: round(v, 4) for k, v in scores.items() if v is not None}


def validate(model, examples, working_size, mean, std, threshold=DEFAULT_THRESHOLD, device="cpu") -> dict:
    """Validation per folder, and `score`, the mean over folders of mIoU (accuracy for a folder whose photos are
    sharp everywhere, where it is one minus the share called blurred): the figure the best checkpoint is chosen by.

    A folder of all-sharp photos reports the share of the frame called blurred (mean, median, worst) instead of
    F1 and mIoU, which are degenerate without blurred pixels."""
    from .metrics import image_record, summarise_validation

    by_source: dict[str, list] = {}
    for ex in examples:
        by_source.setdefault(ex.source, []).append(ex)
    out, scores = {}, []
    for source, group in by_source.items():
        records, shares = [], []
        for ex in group:
            probs, _ = predict_probs(model, ex.image, working_size, mean, std, device)
            blur = 1.0 - probs[..., 0]
            kind = np.where(blur >= threshold, 1 + np.argmax(probs[..., 1:], axis=-1), 0).astype(np.uint8)
            records.append(image_record(blur, ex.labels > 0, threshold, kind, ex.labels, name=ex.stem))
            shares.append(float((blur >= threshold).mean()))
        if not any((ex.labels > 0).any() for ex in group):
            summary = {"accuracy": 1 - float(np.mean(shares)), "blurred_share_median": float(np.median(shares)),
                       "blurred_share_max": float(np.max(shares))}
            scores.append(summary["accuracy"])
        else:
            summary = summarise_validation(records)
            scores.append(summary["miou"])
        out[source] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in summary.items()}
    out["score"] = round(float(np.mean(scores)), 4)
    amount = validate_amount(model, examples, working_size, mean, std, device)
    if amount:  # reported, not part of the score: the best checkpoint is the best map
        out["amount"] = amount
    return out


def train(cfg: TrainConfig, console=None) -> Path:
    import cv2
    import torch

    from ..model import BlurNetConfig, create_model
    from .losses import multiscale_amount_l1, multiscale_cross_entropy

    # OpenCV's thread pool does not survive fork(): a data worker forked after the parent used it deadlocks in its
    # first cv2 call. One OpenCV thread in the parent keeps the fork safe; torch has the cores for the model.
    cv2.setNumThreads(1)
    check_config(cfg)
    out = Path(cfg.out)
    log_file = out / "train.log"
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    examples, sequences = load_training_folders(cfg.data, cfg.working_size)
    if not examples:
        raise InputError("`data`: no folder in CUHK layout (images/, gt/) to train and validate on")
    train_examples, val_examples = split_by_folder(examples, cfg.val_share, cfg.split_seed)
    val_stems = sorted(e.stem for e in val_examples)

    model_config = BlurNetConfig(amount_head=True)
    model = create_model("blurnet", **dataclasses.asdict(model_config))
    init_cards, init_record, init_message = [], None, None
    if cfg.init:
        init_cards, fresh = warm_start(model, cfg.init)
        init_record = [{"file": Path(p).name, "sha256": sha256_of(Path(p))} for p in cfg.init]
        init_message = f"warm start from {' + '.join(cfg.init)}" + (" averaged" if len(cfg.init) > 1 else "") + ": " + (
            f"{len(fresh)} tensors start fresh ({', '.join(fresh[:4])}{'...' if len(fresh) > 4 else ''})"
            if fresh else "every tensor copied"
        )
    elif cfg.encoder_init:
        try:
            state = torch.load(cfg.encoder_init, map_location="cpu", weights_only=True)
            model.encoder.load_imagenet(state)
        except Exception as exc:  # noqa: BLE001 — a foreign file fails torch.load or load_state_dict in many ways
            # torch's first sentence is the reason; the rest of its message is advice about pickles.
            reason = str(exc).strip().splitlines()[0].split(". ")[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{cfg.encoder_init}: not a MobileNetV2 state_dict (`encoder_init`): {reason}") from None
    mean, std = IMAGENET_NORMALISATION["mean"], IMAGENET_NORMALISATION["std"]
    out.mkdir(parents=True, exist_ok=True)  # only once the data is known to split: a refused run writes nothing
    counts = ", ".join(
        f"{src} {sum(e.source == src for e in train_examples)}/{sum(e.source == src for e in val_examples)}"
        for src in dict.fromkeys(e.source for e in examples)
    )
    frames = ", ".join(f"{s.name} {len(s.frames)} frames" for s in sequences) or "no frame folder"
    _log(log_file, f"{len(train_examples)} training / {len(val_examples)} validation images ({counts}); {frames}; "
                   f"device {device}", console)
    if cfg.p_frames > 0 and not sequences:
        _log(log_file, f"--p-frames {cfg.p_frames:g} without a frame folder: those samples are plain crops", console)
    if init_message:
        _log(log_file, init_message, console)

    # Channels-last (NHWC): oneDNN runs MobileNetV2's depthwise convolutions without reordering, about 22 % less CPU
    # a training step (1.23 -> 0.95 CPU-s at batch 8, crop 256, one thread); the layout fp16 tensor cores want.
    model.to(device, memory_format=torch.channels_last)
    enc_params = list(model.encoder.parameters())
    # Everything after the encoder learns at the full rate.
    dec_params = [p for name, p in model.named_parameters() if not name.startswith("encoder.")]
    opt = torch.optim.AdamW(
        [{"params": enc_params, "lr": cfg.lr * cfg.encoder_lr_mult}, {"params": dec_params, "lr": cfg.lr}],
        weight_decay=cfg.weight_decay,
    )

    def lr_factor(step):
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        t = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    # The moving average of the weights is what we validate and ship: it smooths the step-to-step noise of small
    # batches on 720 photos, which otherwise makes the validation score jump by +-0.015 mIoU between checkpoints.
    ema = _WeightAverage(model, cfg.ema_decay) if cfg.ema_decay > 0 else None
    shipped = ema.model if ema else model
    step, best, history = 0, -1.0, []
    last_ckpt = out / "last.pt"
    if cfg.resume and last_ckpt.is_file():
        state = torch.load(last_ckpt, map_location=device, weights_only=True)
        # A resumed run must hold out the images it held out before, or it would train on its validation images
        # (older checkpoints did not record the split: nothing to compare).
        if "val_stems" in state and sorted(json.loads(state["val_stems"])) != sorted(val_stems):
            raise InputError(
                f"{last_ckpt}: this run held out other validation images; resume it with the `data`, `val_share` "
                "and `split_seed` it was started with"
            )
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        if ema is not None:
            ema.model.load_state_dict(state.get("ema", state["model"]))
        step, best = int(state["step"]), float(state["best"])
        history = json.loads(state["history"])
        _log(log_file, f"resumed at step {step}", console)

    dataset = BlurTrainingSet(train_examples, cfg, mean, std, sequences)
    sampler = range(step * cfg.batch_size, len(dataset))  # resume continues the exact sample sequence
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        sampler=sampler,
        num_workers=cfg.workers,
        persistent_workers=cfg.workers > 0,
        prefetch_factor=4 if cfg.workers > 0 else None,
        worker_init_fn=_worker_init,
        drop_last=True,
    )

    def card(metrics, trained_steps, minutes):
        stage = {
            "data": [str(Path(d).name) for d in cfg.data],
            "init": init_record,
            "steps": trained_steps,
            "minutes": round(minutes, 1),
            "config": dataclasses.asdict(cfg),
        }
        # The stages that made this model, oldest first: the init files' stages (or a file's one training record,
        # for a file from before stages were recorded), each stage once (averaged runs share their ancestors'), then
        # this one.
        earlier = []
        for init_card in init_cards:
            t = init_card.get("training", {})
            for s in t.get("stages") or [{k: t.get(k) for k in ("data", "steps", "minutes", "config", "encoder_init")}]:
                if s not in earlier:
                    earlier.append(s)
        return {
            "normalisation": {"mean": mean, "std": std},
            "threshold": DEFAULT_THRESHOLD,  # until `blurtool calibrate` (run at the end of `blurtool train`)
            "working_size": cfg.working_size,
            # The photo and its mirror averaged: +0.005 accuracy / +0.009 mIoU on CUHK (docs/training.md, stage 0).
            "flip_average": True,
            "classes": list(KIND_NAMES),
            "training": {
                "data": [str(Path(d).name) for d in cfg.data],
                "data_note": "CUHK blur detection benchmark (Shi et al. 2014) training part, SZU-BD half (Sun et "
                "al.), Sun-Hays 80 and Urban100 photos, GoPro frames (Nah et al. 2017); research use",
                "train_images": len(train_examples),
                "val_stems": val_stems,
                "steps": trained_steps,
                "minutes": round(minutes, 1),
                "config": dataclasses.asdict(cfg),
                "encoder_init": Path(cfg.encoder_init).name if cfg.encoder_init and not cfg.init else None,
                "init": init_record,
                "stages": earlier + [stage],
            },
            "metrics": {"validation": metrics},
        }

    def checkpoint(minutes):
        nonlocal best
        model.eval()
        metrics = validate(shipped, val_examples, cfg.working_size, mean, std, device=device)
        entry = {"step": step, "minutes": round(minutes, 1), **metrics}
        if ema is not None and step:  # the raw weights too, so the log shows what the average brings (none at 0)
            entry["raw"] = validate(model, val_examples, cfg.working_size, mean, std, device=device)["score"]
        model.train()
        history.append(entry)
        _log(log_file, f"step {step} validation " + json.dumps(entry), console)
        save_weights(out / "latest-weights.pt", shipped, card(metrics, step, minutes))
        if metrics["score"] > best:
            best = metrics["score"]
            save_weights(out / "best.pt", shipped, card(metrics, step, minutes))
        tmp = out / "last.pt.tmp"
        state = {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "step": step,
            "best": best,
            "history": json.dumps(history),
            "val_stems": json.dumps([str(v) for v in val_stems]),
        }
        if ema is not None:
            state["ema"] = ema.model.state_dict()
        torch.save(state, tmp)
        os.replace(tmp, last_ckpt)
        (out / "history.json").write_text(json.dumps(history, indent=1))

    autocast = device_autocast(device)  # fp16 on CUDA, nothing on the CPU
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda")
    model.train()
    start = time.time() - (history[-1]["minutes"] * 60 if history else 0)
    if cfg.steps == 0:  # the `init` files' average is the run's weights: validated and saved as a checkpoint
        checkpoint(0.0)
        _log(log_file, f"0 steps: the average of {len(cfg.init)} `init` files; validation score {best:.4f}", console)
        return out / "best.pt"
    running, t_last = 0.0, time.time()
    classes = model_config.num_classes
    for images, labels, amount in loader:
        images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        images = images.contiguous(memory_format=torch.channels_last)
        amount = amount.to(device, non_blocking=True)
        with autocast:
            logits = model(images)
        loss = multiscale_cross_entropy([o[:, :classes] for o in logits], labels, cfg.multiscale_loss)
        loss = loss + cfg.amount_weight * multiscale_amount_l1(logits, amount, cfg.multiscale_loss)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        sched.step()
        step += 1
        if ema is not None:
            ema.update(model, step)
        running = 0.9 * running + 0.1 * loss.item() if step > 1 else loss.item()
        minutes = (time.time() - start) / 60
        if step % 20 == 0:
            _log(log_file, f"step {step}/{cfg.steps} loss {running:.4f} "
                           f"{(time.time() - t_last) / 20:.2f} s/step {minutes:.1f} min", console)
            t_last = time.time()
        out_of_time = cfg.max_minutes and minutes >= cfg.max_minutes
        if step % cfg.val_every == 0 or step >= cfg.steps or out_of_time:
            checkpoint(minutes)
        if step >= cfg.steps or out_of_time:
            break
    _log(log_file, f"done at step {step}; best validation score {best:.4f}", console)
    return out / "best.pt"


class _WeightAverage:
    """Exponential moving average of a model's parameters (Polyak averaging). The decay ramps up from 0 over the
    first steps ((1 + step) / (10 + step)) so the average does not remember the random decoder of step 0."""

    def __init__(self, model, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    def update(self, model, step: int) -> None:
        import torch

        d = min(self.decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for avg, cur in zip(self.model.state_dict().values(), model.state_dict().values()):
                if avg.dtype.is_floating_point:
                    avg.mul_(d).add_(cur.detach(), alpha=1 - d)
                else:
                    avg.copy_(cur)


def _worker_init(_):
    import cv2

    cv2.setNumThreads(1)  # the worker must not fight the model for the two cores
