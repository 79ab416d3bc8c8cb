"""The arithmetic of a training step: float32 (the paper's), bfloat16 autocast, or TF32 products on a GPU.

``bf16`` runs the networks' forward passes (matrix products and convolutions) under
``torch.autocast(dtype=torch.bfloat16)``; weights, optimizer states, losses and the
recorded gradient norms stay float32, and Hessian estimates are always float32 (the
curvature hook runs outside the autocast). On a CPU it pays off only with bfloat16
units (AVX-512 BF16 or AMX); without them PyTorch emulates bfloat16 and the step
gets slower, so such a CPU is refused in one sentence. With bf16 the convolutional
networks are kept channels-last (NHWC), the layout oneDNN's and cuDNN's bfloat16
kernels run fastest in (measured: +8% on a DCGAN iteration here). ``tf32`` lets CUDA matrix
products and convolutions use TF32 tensor cores; a CPU has no TF32.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from landscape.errors import LandscapeError

if TYPE_CHECKING:
    import torch


def cpu_has_bf16() -> bool | None:
    """Whether this CPU has bfloat16 units (AVX-512 BF16 or AMX); None where PyTorch cannot say."""
    import torch

    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    probes = [p for p in probes if callable(p)]
    if not probes:
        return None
    return any(bool(p()) for p in probes)


def check_precision(precision: str, device_type: str) -> None:
    """One sentence if ``precision`` cannot run well on ``device_type``."""
    if precision == "tf32" and device_type != "cuda":
        raise LandscapeError("precision tf32 uses a GPU's TF32 tensor cores; on a CPU use fp32 or bf16.")
    if precision == "bf16" and device_type == "cpu" and cpu_has_bf16() is False:
        raise LandscapeError(
            "precision bf16 needs a CPU with bfloat16 units (AVX-512 BF16 or AMX), which this one lacks: PyTorch "
            "would emulate them and train slower than fp32; use fp32."
        )


def memory_format(precision: str) -> "torch.memory_format":
    """The layout convolutional weights and activations are kept in: channels-last under bf16, else PyTorch's default."""
    import torch

    return torch.channels_last if precision == "bf16" else torch.contiguous_format


def use_memory_format(module: "torch.nn.Module", precision: str) -> "torch.nn.Module":
    """``module`` with its 4-D (convolution) weights in :func:`memory_format`; other tensors unchanged."""
    fmt = memory_format(precision)
    if fmt is not memory_format("fp32"):
        module.to(memory_format=fmt)  # only 4-D parameters and buffers change layout
    return module


@contextmanager
def matmul_precision(precision: str) -> Iterator[None]:
    """TF32 matrix products and convolutions on CUDA for ``precision="tf32"`` inside the block, restored after."""
    import torch

    if precision != "tf32":
        yield
        return
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


__all__ = ["check_precision", "cpu_has_bf16", "matmul_precision", "memory_format", "use_memory_format"]
