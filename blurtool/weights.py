"""Self-describing weights files: one torch file holding the architecture name, the BlurNetConfig, the state_dict
(stored in float16 to keep the shipped file small; loaded back as float32), and a card (normalisation, default
threshold, working size, training data and metrics). A JSON copy of the card with the file's sha256 sits beside it.

Resolution order for the file: explicit path, $BLURTOOL_WEIGHTS, packaged default. Nothing is ever downloaded."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .errors import WeightsError

FORMAT = "blurtool-weights"
FORMAT_VERSION = 1
DEFAULT_NAME = "blurnet.pt"
ENV_VAR = "BLURTOOL_WEIGHTS"

# ImageNet statistics of the MobileNetV2 encoder initialisation.
IMAGENET_NORMALISATION = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}

# BlurNetConfig options tried and retired (docs/training.md): a file from before, with the option off, loads as it
# is; one trained with it on holds a network blurtool no longer builds.
RETIRED_MODEL_OPTIONS = {
    "gradient_input": "the image-gradient input branch (retired; its code is in commit ccfc37f)",
}


def default_weights_path() -> Path:
    """The packaged model: inside an installed wheel (blurtool/_weights), else the repository's weights/ folder."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_weights" / DEFAULT_NAME, here.parent / "weights" / DEFAULT_NAME):
        if candidate.is_file():
            return candidate
    return here.parent / "weights" / DEFAULT_NAME


def resolve_weights_path(path: str | os.PathLike | None = None) -> Path:
    if path is None:
        env = os.environ.get(ENV_VAR)
        path = env if env else default_weights_path()
    path = Path(path).expanduser()
    if not path.exists():
        raise WeightsError(f"{path}: weights file not found")
    if not path.is_file():
        raise WeightsError(f"{path}: is not a file")
    return path


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_weights(path, model, card: dict, half: bool = True) -> str:
    """Write the weights file atomically and its JSON card beside it; returns the sha256."""
    import dataclasses

    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
        for k, v in model.state_dict().items()
    }
    card = _portable(dict(card))
    card.setdefault("normalisation", IMAGENET_NORMALISATION)
    card["arch"] = "blurnet"
    card["config"] = _jsonable(dataclasses.asdict(model.config))
    card["stride"] = model.config.stride
    card["output_stride"] = model.config.output_stride
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "card_json": json.dumps(card), "state_dict": state}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    digest = sha256_of(path)
    card_path = path.with_suffix(".json")
    tmp = card_path.with_name(card_path.name + ".tmp")
    tmp.write_text(json.dumps({**card, "file": path.name, "sha256": digest}, indent=2) + "\n")
    os.replace(tmp, card_path)
    return digest


# Options of a training run (TrainConfig) that name files and folders: a card records their names, not where they lay
# on the machine that trained it.
_PATH_OPTIONS = ("data", "out", "init", "encoder_init")


def _names(config: dict) -> dict:
    out = dict(config)
    for key in _PATH_OPTIONS:
        value = out.get(key)
        if isinstance(value, str) and value:
            out[key] = Path(value).name
        elif isinstance(value, list):
            out[key] = [Path(v).name if isinstance(v, str) else v for v in value]
    return out


def _portable(card: dict) -> dict:
    """The card with the path options of its training runs (training.config, training.stages[].config) cut to names."""
    training = card.get("training")
    if not isinstance(training, dict):
        return card
    training = dict(training)
    if isinstance(training.get("config"), dict):
        training["config"] = _names(training["config"])
    if isinstance(training.get("stages"), list):
        training["stages"] = [
            {**s, "config": _names(s["config"])} if isinstance(s, dict) and isinstance(s.get("config"), dict) else s
            for s in training["stages"]
        ]
    return {**card, "training": training}


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def load_weights(path=None, map_location="cpu"):
    """Return (model in eval mode, float32, on map_location; card dict). Raises WeightsError on any bad file."""
    import torch

    from .model import create_model

    path = resolve_weights_path(path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 — torch.load fails on foreign bytes with any of a dozen types
        # (KeyError, UnpicklingError, RuntimeError, EOFError...); all mean the same thing to the user.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        try:
            with open(path, "rb") as fh:
                head = fh.read(2)
        except OSError:
            head = b"PK"  # unreadable: keep torch's own reason
        if head[:2] != b"PK" and head[:1] != b"\x80":
            # Neither a zip (torch.save's format) nor a legacy pickle: torch's own message (e.g. "101", a KeyError
            # on the first byte) would mean nothing to the user.
            reason = "not a PyTorch file"
        raise WeightsError(f"{path}: not a readable weights file (truncated or corrupt?): {reason}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise WeightsError(f"{path}: not a blurtool weights file (no '{FORMAT}' header)")
    if payload.get("format_version") != FORMAT_VERSION:
        raise WeightsError(f"{path}: weights format version {payload.get('format_version')} is not supported")
    try:
        card = json.loads(payload["card_json"])
        card["config"] = _without_retired(path, card["config"])
        model = create_model(card["arch"], **card["config"])
        state = {k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
        model.load_state_dict(state, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        reason = str(exc).strip().splitlines()[0]
        raise WeightsError(f"{path}: weights do not match the blurtool architecture: {reason}") from None
    model.to(map_location).eval()
    card["path"] = str(path)
    return model, card


def _without_retired(path, config: dict) -> dict:
    """The model config without the retired options that are off; WeightsError if one is on."""
    config = dict(config)
    for key, what in RETIRED_MODEL_OPTIONS.items():
        if config.pop(key, False):
            raise WeightsError(f"{path}: this network was trained with {what}; this blurtool cannot run it")
    return config


def update_card(path, **changes) -> str:
    """Change card entries of an existing weights file (e.g. a threshold calibrated on validation images),
    rewriting it atomically with its JSON card; returns the new sha256."""
    import torch

    path = resolve_weights_path(path)
    model, card = load_weights(path)
    card.pop("path", None)
    half = any(
        v.dtype == torch.float16
        for v in torch.load(path, map_location="cpu", weights_only=True)["state_dict"].values()
    )
    return save_weights(path, model, {**card, **changes}, half=half)
