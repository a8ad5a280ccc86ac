"""The blur network. `create_model(name, **config)` is the registry the weights loader uses."""

from .blurnet import BlurNet
from .config import BlurNetConfig

MODELS = {"blurnet": BlurNet}


def create_model(name: str = "blurnet", **config) -> BlurNet:
    if name not in MODELS:
        raise ValueError(f"unknown architecture {name!r}; known: {sorted(MODELS)}")
    return MODELS[name](BlurNetConfig(**config))


__all__ = ["BlurNet", "BlurNetConfig", "create_model", "MODELS"]
