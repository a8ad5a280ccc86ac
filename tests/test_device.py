"""resolve_device: one place decides the device; CUDA asked for but absent is an error, never a silent fallback."""

import pytest
import torch

from blurtool.device import autocast, resolve_device
from blurtool.errors import DeviceError


def test_cpu_and_auto_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")


@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_absent_is_an_error(monkeypatch, name):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="CUDA is not available"):
        resolve_device(name)


def test_cuda_index_out_of_range(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("auto") == torch.device("cuda")
    with pytest.raises(DeviceError, match="has 2 CUDA device"):
        resolve_device("cuda:2")


@pytest.mark.parametrize("name", ["gpu", "cpu:0", "cuda:x", "tpu"])
def test_unknown_names(name):
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device(name)


def test_autocast_only_on_cuda():
    with autocast(torch.device("cpu")):
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.float32
