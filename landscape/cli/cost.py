"""What a long recording will cost on this machine, said once near its start, with the ways to make it cheaper.

A DCGAN run on CIFAR-10 on a CPU is about 39,000 iterations at a few tenths of an
iteration per second: a progress bar's "eta 35:36:26" says so, but not what to do
about it. :func:`cost_note` wraps the progress callback of ``trainers.record``:
after a few seconds of training it takes the measured rate (measurements excluded,
``GANTrainer.training_rate``), and if the rest of the run would take longer than
``threshold`` seconds it prints one note with the estimate and the options
(``--precision bf16`` where this CPU has bfloat16 units, a GPU, ``--max-iters``).
"""

from __future__ import annotations

import time
from typing import Any, Callable

#: bf16 over fp32 for the DCGAN trainer on a CPU with bfloat16 units (benchmarks/bench_trainer.py, variant P:
#: 1.92x on the development machine's Xeon with AMX). A documented figure, not measured here at run time.
BF16_CPU_SPEEDUP = 1.9
#: The note is printed only when the rest of the run would take longer than this (seconds).
LONG_RUN_SECONDS = 3600.0
#: The rate is taken once training has run this long and this many iterations (the first few are slower).
MEASURE_SECONDS = 5.0
MEASURE_ITERATIONS = 3


def cost_note(progress: Callable[[Any], None] | None, say: Callable[[str], None],
              threshold: float = LONG_RUN_SECONDS) -> Callable[[Any], None]:
    """``progress`` (may be None) followed, once, by :func:`cost_sentence` through ``say`` when the run is long.

    The check is made at the first progress call after :data:`MEASURE_SECONDS` of training and
    :data:`MEASURE_ITERATIONS` iterations; after that the wrapper only forwards to ``progress``.
    """
    state: dict[str, Any] = {"done": False, "start": None, "step": None}

    def update(tr: Any) -> None:
        if progress is not None:
            progress(tr)
        if state["done"]:
            return
        now = time.monotonic()
        if state["start"] is None:
            state["start"], state["step"] = now, tr.step
            return
        rate = tr.training_rate()
        if not rate or now - state["start"] < MEASURE_SECONDS or tr.step - state["step"] < MEASURE_ITERATIONS:
            return
        state["done"] = True
        sentence = cost_sentence(tr.config, tr.schedule.total_iters, tr.step, rate, threshold,
                                 started_at=state["step"])
        if sentence:
            say(sentence)

    return update


def cost_sentence(config: Any, total: int, step: int, rate: float, threshold: float = LONG_RUN_SECONDS, *,
                  started_at: int = 0) -> str | None:
    """``Note: this run is 39,000 iterations; at 0.31 it/s on this CPU that is about 35 hours. Options: ...``,
    or None when the ``total - step`` iterations left take ``threshold`` seconds or less at ``rate`` it/s.
    ``started_at``: the step this command started from (a resumed run says how many it has still to go)."""
    seconds = (total - step) / rate
    if not seconds > threshold:
        return None
    device = str(getattr(config, "device", "cpu"))
    on_cpu = device == "cpu"
    where = "this CPU" if on_cpu else f"this GPU ({device})"
    left = f"{total:,} iterations" if not started_at else f"{total:,} iterations, {total - started_at:,} still to go"
    options = []
    if getattr(config, "precision", "fp32") == "fp32":
        if not on_cpu:
            options.append("--precision bf16 or tf32")
        elif _cpu_has_bf16():
            options.append(f"--precision bf16 (about {BF16_CPU_SPEEDUP:.1f}x faster on a CPU with bfloat16 units "
                           "like this one)")
    if on_cpu:
        options.append("a GPU (--device cuda)")
    options.append("--max-iters N to stop after N iterations")
    return (f"Note: this run is {left}; at {rate:.3g} it/s on {where} that is about {_duration(seconds)}. "
            f"Options: {', '.join(options[:-1]) + ', or ' if len(options) > 1 else ''}{options[-1]}.")


def _cpu_has_bf16() -> bool:
    from trainers.precision import cpu_has_bf16

    return bool(cpu_has_bf16())


def _duration(seconds: float) -> str:
    hours = seconds / 3600
    if hours >= 48:
        return f"{hours / 24:.0f} days"
    if hours >= 10:
        return f"{hours:.0f} hours"
    return f"{hours:.1f} hours"


__all__ = ["BF16_CPU_SPEEDUP", "LONG_RUN_SECONDS", "cost_note", "cost_sentence"]
