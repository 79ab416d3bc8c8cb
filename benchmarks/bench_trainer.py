"""How much recording costs, and how the trainer compares with a plain PyTorch GAN loop.

Measures iterations/s, in one process and interleaved (A B C S A B C S ...), of

A. the trainer with recording on (``GANTrainer`` + ``RunWriter`` into a temp file),
   default settings (the paper's procedure: D's forward on the fakes runs twice),
B. the same trainer with recording off (its writer detached between chunks; the
   metrics are still computed),
S. the trainer with recording on and ``share_fake_pass=True`` (``--share-fake-pass``:
   one of D's three forward passes saved, at the cost of one dropout mask for both steps),
P. the trainer with recording on and ``precision="bf16"`` (``--precision bf16``: bfloat16
   forward passes; weights, losses and gradient norms float32),
C. a plain loop written the usual way: the same networks with PyTorch's stock
   ``nn.Dropout``, a ``DataLoader`` over a ``TensorDataset``,
   ``torch.optim.Adam`` with its defaults, ``zero_grad(); loss.backward(); step()``
   for G and then D, and ``.item()`` on each logged value every iteration (losses,
   D outputs, and the total G and D gradient norms via ``clip_grad_norm_(inf)``;
   it skips the real/fake gradient split, which would make it slower still).

All three train the same networks with the same settings on the same images, and
each gets warm-up iterations first. Interleaving and medians make the numbers
robust to a machine shared with other work. Usage::

    python benchmarks/bench_trainer.py                      # the three default cases
    python benchmarks/bench_trainer.py --case dcgan-mnist --rounds 5 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from landscape.config import TrainConfig
from landscape.runfile import GAN_FIELDS
from landscape.writer import RunWriter
from trainers.layers import KerasDropout
from trainers.loop import GANTrainer, sample_z
from trainers.models import build_models

# case -> (arch, dataset, iterations per timed chunk)
CASES = {
    "vanilla-mnist": ("vanilla", "mnist", 300),
    "vanilla-cifar10": ("vanilla", "cifar10", 150),
    "dcgan-mnist": ("dcgan", "mnist", 3),
    "dcgan-cifar10": ("dcgan", "cifar10", 3),
}


def load_images(dataset: str, data_dir: str | None, n: int) -> torch.Tensor:
    """The first ``n`` training images (uint8); random pixels if the dataset is not on disk."""
    from landscape.data import load_dataset
    from landscape.errors import DataError

    try:
        return load_dataset(dataset, root=data_dir).images[:n]
    except DataError:
        shape = (3, 32, 32) if dataset == "cifar10" else (1, 28, 28)
        return torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def stock_layers(module: torch.nn.Module) -> torch.nn.Module:
    """The same network with PyTorch's own ``nn.Dropout`` in place of the trainer's faster
    :class:`~trainers.layers.KerasDropout`, as a loop written the usual way would have it."""
    for name, child in module.named_children():
        if isinstance(child, KerasDropout):
            setattr(module, name, torch.nn.Dropout(child.p))
        else:
            stock_layers(child)
    return module


class PlainLoop:
    """The usual way to write it: DataLoader, default Adam, full backward passes, ``.item()`` per iteration."""

    def __init__(self, config: TrainConfig, images: torch.Tensor):
        torch.manual_seed(config.seed)
        self.config = config
        self.g, self.d = (stock_layers(m) for m in build_models(config))
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=config.lr_g, betas=config.betas, eps=config.eps)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=config.lr_d, betas=config.betas, eps=config.eps)
        data = images.float() / 127.5 - 1
        self.loader = DataLoader(TensorDataset(data), batch_size=config.batch_size, shuffle=True, drop_last=True)
        self.batches = iter(self.loader)
        self.history: list[dict[str, float]] = []

    def run(self, n: int) -> None:
        for _ in range(n):
            try:
                (real,) = next(self.batches)
            except StopIteration:
                self.batches = iter(self.loader)
                (real,) = next(self.batches)
            z = sample_z(real.shape[0], self.config, torch.device("cpu"))
            ones, zeros = torch.ones(real.shape[0]), torch.zeros(real.shape[0])

            self.opt_g.zero_grad()
            fake = self.g(z)
            g_loss = F.binary_cross_entropy_with_logits(self.d(fake), ones)
            g_loss.backward()
            g_norm = torch.nn.utils.clip_grad_norm_(self.g.parameters(), float("inf"))
            self.opt_g.step()

            self.opt_d.zero_grad()
            d_real = self.d(real)
            d_fake = self.d(fake.detach())
            loss_real = F.binary_cross_entropy_with_logits(d_real, ones)
            loss_fake = F.binary_cross_entropy_with_logits(d_fake, zeros)
            d_loss = loss_real + loss_fake
            d_loss.backward()
            d_norm = torch.nn.utils.clip_grad_norm_(self.d.parameters(), float("inf"))
            self.opt_d.step()

            self.history.append(
                {
                    "g_loss": g_loss.item(),
                    "g_grad_norm": g_norm.item(),
                    "d_loss": d_loss.item(),
                    "d_loss_real": loss_real.item(),
                    "d_loss_fake": loss_fake.item(),
                    "d_grad_norm": d_norm.item(),
                    "d_out_real": torch.sigmoid(d_real).mean().item(),
                    "d_out_fake": torch.sigmoid(d_fake).mean().item(),
                }
            )


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter


def timed(fn, n: int) -> float:
    """Iterations per second of ``fn(n)`` (wall time, or this process's CPU time with --clock cpu)."""
    start = clock()
    fn(n)
    return n / (clock() - start)


def log_cost(tmp: Path, rows: int = 20_000) -> float:
    """Seconds one ``RunWriter.log`` call of the ten GAN metrics takes (as 0-d CPU tensors), flushes included."""
    values = {name: torch.tensor(float(i)) for i, name in enumerate(GAN_FIELDS)}
    with RunWriter(tmp / "log-cost.h5", {}, overwrite=True) as writer:
        start = time.perf_counter()
        for step in range(rows):
            writer.log(step, epoch=1, **values)
        writer.flush()
        return (time.perf_counter() - start) / rows


def bench_case(case: str, rounds: int, chunk: int | None, data_dir: str | None, tmp: Path) -> dict[str, float]:
    arch, dataset, default_chunk = CASES[case]
    chunk = chunk or default_chunk
    # steady state: no sample grid inside the timed chunks (a real run makes five in ~40k iterations)
    config = TrainConfig(arch=arch, dataset=dataset, epochs=10_000, sample_epochs=(10_000,), device="cpu")
    images = load_images(dataset, data_dir, 10_000)

    # A and B are one trainer whose writer is switched on and off between chunks: the same
    # loop, the same objects in memory, only the recording differs
    writer = RunWriter(tmp / f"{case}.h5", config.to_dict(), overwrite=True)
    trainer = GANTrainer(config, images, writer)
    plain = PlainLoop(config, images)
    shared_config = config.replace(share_fake_pass=True)
    shared_writer = RunWriter(tmp / f"{case}-shared.h5", shared_config.to_dict(), overwrite=True)
    shared = GANTrainer(shared_config, images, shared_writer)

    def with_writer(on: bool):
        def run(n: int) -> None:
            trainer.writer = writer if on else None
            trainer.run(until=trainer.step + n)

        return run

    def run_shared(n: int) -> None:
        shared.run(until=shared.step + n)

    bf16_config = config.replace(precision="bf16")
    bf16_writer = RunWriter(tmp / f"{case}-bf16.h5", bf16_config.to_dict(), overwrite=True)
    bf16 = GANTrainer(bf16_config, images, bf16_writer)

    def run_bf16(n: int) -> None:
        bf16.run(until=bf16.step + n)

    runners = {"A": with_writer(True), "B": with_writer(False), "C": plain.run, "S": run_shared, "P": run_bf16}
    warm = max(2, chunk // 5)
    for fn in runners.values():
        fn(warm)
    speeds: dict[str, list[float]] = {k: [] for k in runners}
    rewarm = chunk // 10  # a few untimed iterations right before each timed chunk: warm caches for everyone
    for r in range(rounds):
        for name, fn in runners.items():
            if rewarm:
                fn(rewarm)
            speeds[name].append(timed(fn, chunk))
        print(f"  {case} round {r + 1}/{rounds}: " + "  ".join(f"{k} {v[-1]:.2f}" for k, v in speeds.items()), flush=True)
    writer.close()
    shared_writer.close()
    bf16_writer.close()
    med = {k: statistics.median(v) for k, v in speeds.items()}
    return {
        "A": med["A"],
        "B": med["B"],
        "C": med["C"],
        "S": med["S"],
        "P": med["P"],
        "speedup_bf16": statistics.median(p / c for p, c in zip(speeds["P"], speeds["C"])),
        # recording's cost: the median of the per-round ratios is robust to a round-wide slowdown
        "cost": statistics.median(b / a - 1 for a, b in zip(speeds["A"], speeds["B"])),
        "speedup": statistics.median(a / c for a, c in zip(speeds["A"], speeds["C"])),
        "speedup_shared": statistics.median(s / c for s, c in zip(speeds["S"], speeds["C"])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="repeatable; default: vanilla-mnist, vanilla-cifar10, dcgan-mnist")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--chunk", type=int, default=None, help="iterations per timed chunk (default per case)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--data-dir", default=None, help="dataset root (default: $LANDSCAPE_DATA or ./data)")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall time, or this process's CPU time (steadier on a machine shared with other work; use with --threads 1)",
    )
    args = parser.parse_args()
    global clock
    clock = CLOCKS[args.clock]
    if args.threads:
        torch.set_num_threads(args.threads)
    cases = args.case or ["vanilla-mnist", "vanilla-cifar10", "dcgan-mnist"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.rounds} interleaved rounds, {args.clock} clock")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        per_log = log_cost(Path(tmp))
        for case in cases:
            results[case] = bench_case(case, args.rounds, args.chunk, args.data_dir, Path(tmp))
    print()
    print(
        "| case | A: recording on (it/s) | B: recording off (it/s) | C: plain loop (it/s) | B/A - 1 | log() share "
        "| A / C | S: shared fake pass (it/s) | S / C | P: bf16 (it/s) | P / C |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for case, r in results.items():
        share = per_log * r["A"]  # the fraction of an iteration spent in writer.log
        print(
            f"| {case} | {r['A']:.2f} | {r['B']:.2f} | {r['C']:.2f} | {100 * r['cost']:+.1f}% "
            f"| {100 * share:.2f}% | {r['speedup']:.2f}x | {r['S']:.2f} | {r['speedup_shared']:.2f}x "
            f"| {r['P']:.2f} | {r['speedup_bf16']:.2f}x |"
        )
    print(f"\nwriter.log of the ten metrics: {per_log * 1e6:.1f} us per iteration, flushes included")


if __name__ == "__main__":
    main()
