"""The one place that decides where the network runs (asking for CUDA where there is none is an error)."""

from __future__ import annotations

import contextlib
import re

from blurtool.errors import DeviceError

_PATTERN = re.compile(r"^(auto|cpu|cuda)(?::(\d+))?$")


def parse_device(name: str) -> tuple[str, str | None]:
    """'auto' | 'cpu' | 'cuda' | 'cuda:N' -> (kind, index or None), without importing torch (so the CLI checks
    --device before any work). An empty name is an error, not 'auto': it is usually a shell variable left unset."""
    text = name.strip().lower() if isinstance(name, str) else ""
    m = _PATTERN.match(text)
    if m is None or (m.group(1) != "cuda" and m.group(2) is not None):
        raise DeviceError(f"unknown device {name!r}: expected auto, cpu, cuda or cuda:N")
    return m.group(1), m.group(2)


def resolve_device(name: str = "auto"):
    """'auto' (CUDA if available, else CPU), 'cpu', 'cuda' or 'cuda:N' -> torch.device.

    Raises DeviceError for an unknown (or empty) name, or CUDA asked for but absent / index out of range. Never falls
    back silently: a user who asked for a GPU wants to know that they are not getting it.
    """
    import torch

    kind, index = parse_device(name)
    if kind == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if kind == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise DeviceError(
            f"device {name!r} requested but CUDA is not available (no NVIDIA GPU, or a CPU-only torch build: "
            "install the CUDA wheel from pytorch.org)"
        )
    if index is not None:
        count = torch.cuda.device_count()
        if int(index) >= count:
            raise DeviceError(f"device {name!r} requested but this machine has {count} CUDA device(s)")
        return torch.device("cuda", int(index))
    return torch.device("cuda")


def autocast(device):
    """fp16 autocast on CUDA (tensor cores, half the memory); plain fp32 elsewhere (CPU fp16 is slow)."""
    import torch

    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return contextlib.nullcontext()
