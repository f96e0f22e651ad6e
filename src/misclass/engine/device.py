"""Choosing the device and the precision of a forward pass (imports torch when called)."""

from __future__ import annotations

import contextlib
import os

from misclass.errors import InputError
from misclass.extras import require

DEVICES = "auto | cpu | cuda | cuda:N | mps"


def select_device(name: str = "auto"):
    """A ``torch.device``: ``"auto"`` picks cuda, then mps, then cpu."""
    torch = require("torch", "torch", feature="running torch models")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise InputError(f"--device {name!r}: expected {DEVICES}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {name}: CUDA is not available on this machine")
    mps = getattr(torch.backends, "mps", None)
    if device.type == "mps" and not (mps is not None and mps.is_available()):
        raise InputError(f"--device {name}: MPS is not available on this machine")
    if device.type not in ("cpu", "cuda", "mps"):
        raise InputError(f"--device {name!r}: expected {DEVICES}")
    return device


def use_amp(device, amp: bool | None) -> bool:
    """Mixed precision: on by default on CUDA only (``amp=None``); never on CPU or MPS."""
    if device.type != "cuda":
        if amp:
            raise InputError(f"--amp needs a CUDA device; this run uses {device}")
        return False
    return True if amp is None else bool(amp)


def autocast(device, enabled: bool):
    """``torch.autocast`` in float16 on CUDA when ``enabled``, else a no-op context."""
    import torch

    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run with ``n`` intra-op CPU threads (None: leave torch's setting), restoring it after."""
    if n is None:
        yield
        return
    import torch

    if n < 1:
        raise InputError(f"--threads {n}: expected at least 1")
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def default_workers(device) -> int:
    """DataLoader workers: every core for a GPU (at most 8); on CPU, the cores the forward
    pass leaves (at most 2, at least 1, so decoding overlaps the forward pass)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if device.type == "cuda":
        return max(1, min(8, cores))
    return max(1, min(2, cores // 2 if cores > 2 else 1))
