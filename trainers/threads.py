"""How many CPU threads PyTorch uses for a run: a measured default, the environment's, or the user's.

PyTorch's own default, one thread per core, oversubscribes a machine that runs
anything else: two runs on 2 cores with two OpenMP threads each run several times
slower than with one thread each (``benchmarks/bench_threads.py``, numbers in
docs/performance.md). The default here is one thread per run on a CPU for both architectures:
a lone DCGAN run is faster with every core (``threads=2`` on 2 cores, see
docs/performance.md), but two runs started at once then slow each other down far below the
speed each gets with one thread. A thread count set in the environment
(``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS``) is respected, and ``threads=N`` (``--threads N``)
always wins. The resolved count is stored in the run's config.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

#: Threads per run on a CPU when nothing says otherwise, by architecture (measured: docs/performance.md, "CPU threads").
DEFAULT_THREADS: dict[str, int] = {"vanilla": 1, "dcgan": 1}
#: Environment variables through which a user already chose a thread count.
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, else the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def resolve_threads(threads: int | None, arch: str, device_type: str = "cpu") -> int:
    """The thread count a run uses: ``threads`` if given, else the environment's, else the architecture's default.

    On an accelerator the CPU only feeds the device: one thread.
    """
    if threads is not None:
        return int(threads)
    for name in THREAD_ENV:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) >= 1:
            return int(value)
    if device_type != "cpu":
        return 1
    return min(DEFAULT_THREADS.get(arch, 1), available_cores())


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with PyTorch using ``n`` intra-op threads, then restore the previous count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


__all__ = ["DEFAULT_THREADS", "available_cores", "resolve_threads", "torch_threads"]
