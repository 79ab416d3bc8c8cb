"""`landscape record`: train a GAN with the paper's setup and record every iteration into a run file."""

from __future__ import annotations

import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Callable, Iterator, Optional

import typer

from landscape.errors import LandscapeError


def record(
    arch: Annotated[str, typer.Option("--arch", help="Architecture: vanilla or dcgan.")],
    data: Annotated[str, typer.Option("--data", help="Dataset: mnist, fashion-mnist or cifar10.")],
    epochs: Annotated[int, typer.Option(help="Training epochs (each a fresh shuffle, full batches).")] = 100,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per batch.")] = 128,
    optimizer: Annotated[str, typer.Option(help="adam, rmsprop, sgd or sgd-momentum (momentum 0.5).")] = "adam",
    lr_g: Annotated[float, typer.Option("--lr-g", help="Generator learning rate.")] = 1e-3,
    lr_d: Annotated[float, typer.Option("--lr-d", help="Discriminator learning rate.")] = 1e-3,
    seed: Annotated[int, typer.Option(help="Random seed (weights, shuffles, z, dropout).")] = 0,
    out: Annotated[Optional[Path], typer.Option(help="Run file to write (default: runs/ARCH-DATA-SEED.h5).")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    data_dir: Annotated[
        Optional[Path], typer.Option("--data-dir", help="Dataset root (default: $LANDSCAPE_DATA, else ./data).")
    ] = None,
    max_iters: Annotated[Optional[int], typer.Option("--max-iters", help="Stop after N iterations.")] = None,
    subset: Annotated[Optional[int], typer.Option(help="Train on the first N images only.")] = None,
    layer_norms: Annotated[
        bool, typer.Option("--layer-norms", help="Also record every parameter tensor's gradient norm.")
    ] = False,
    share_fake_pass: Annotated[
        bool,
        typer.Option(
            "--share-fake-pass",
            help="Reuse the G step's forward of D on the fakes in the D step: about 10% faster, but both steps "
            "then see one dropout mask (the paper's code draws a second; the default does too).",
        ),
    ] = False,
    hessian_every: Annotated[
        Optional[int],
        typer.Option(
            "--hessian-every",
            help="Estimate both networks' Hessian eigenvalues every N iterations and store them in the run "
            "(0: never; default: at the stage boundaries). Each estimate takes about a second for the vanilla "
            "GAN on a CPU, minutes for DCGAN.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing run file.")] = False,
) -> None:
    """Train a GAN (defaults: the paper's setup) and record every iteration into a run file."""
    from landscape.config import TrainConfig
    from landscape.data import canonical_name

    config = TrainConfig(
        arch=arch.strip().lower(),
        dataset=canonical_name(data),
        epochs=epochs,
        batch_size=batch_size,
        optimizer=optimizer.strip().lower(),
        lr_g=lr_g,
        lr_d=lr_d,
        seed=seed,
        device=device.strip().lower(),
        data_dir=str(data_dir) if data_dir is not None else None,
        max_iters=max_iters,
        subset=subset,
        layer_norms=layer_norms,
        share_fake_pass=share_fake_pass,
        hessian_every=hessian_every,
    )
    path = out if out is not None else Path("runs") / f"{config.arch}-{config.dataset}-{config.seed}.h5"
    if path.is_dir():
        raise LandscapeError(f"{path} is a directory; give --out a file name such as {path / 'run.h5'}.")
    if path.exists() and not force:
        raise LandscapeError(f"{path} already exists; choose another --out or pass --force to overwrite it.")
    run_training(config, path, force=force)


def run_training(config: Any, path: Path, force: bool = False) -> None:
    """Load the data, train with a progress bar, and say where the run file is (or why it stopped)."""
    import torch

    from landscape.cli.console import console
    from landscape.data import load_dataset
    from landscape.errors import DivergedError
    from landscape.writer import RunWriter
    from trainers.loop import GANTrainer, resolve_device

    resolved = resolve_device(config.device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise LandscapeError(
            f"--device {config.device} asks for a GPU but PyTorch sees none; use --device cpu or auto."
        )
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise LandscapeError(
            f"--device {config.device} names a GPU that does not exist; PyTorch sees {torch.cuda.device_count()}."
        )
    config = config.replace(device=str(resolved))
    if config.hessian_every is None and config.arch == "dcgan" and resolved.type == "cpu":
        # one DCGAN estimate takes tens of minutes on a CPU: the default would dwarf a short run
        config = config.replace(hessian_every=0)
        _say(console, "Note: no Hessian estimates during a DCGAN run on a CPU (tens of minutes each); "
                      "--hessian-every N asks for them, `landscape hessian` adds them later.")

    trainer = None
    try:
        dataset = load_dataset(config.dataset, root=config.data_dir)
        if config.subset is not None and config.subset > len(dataset):
            raise LandscapeError(
                f"--subset {config.subset} is larger than {config.dataset}'s {len(dataset)} training images."
            )
        if config.batch_size > len(dataset):
            raise LandscapeError(
                f"--batch-size {config.batch_size} is larger than {config.dataset}'s {len(dataset)} "
                "training images; lower it."
            )
        with RunWriter(path, config.to_dict(), overwrite=force) as writer:
            trainer = GANTrainer(config, dataset.images, writer, on_hessian_step=_hessian_hook(config, console))
            with _progress(trainer, console) as update, _stop_on_sigint(trainer, console):
                trainer.run(progress=update)
    except DivergedError as err:
        _say(console, f"[bold red]Diverged:[/] {err}; the run file keeps every recorded row: {path}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        if trainer is None:
            _say(console, "[yellow]Interrupted[/] before training started.")
        else:
            kept = f"the run file keeps every recorded row: {path}"
            _say(console, f"[yellow]Interrupted[/] after {trainer.step} iterations; {kept}")
        raise typer.Exit(130) from None
    _say(console, f"Recorded {trainer.step:,} iterations into [bold]{path}[/]")
    _say(console, f"Next: [bold]landscape lgc {path} --out {path.with_name(path.stem + '-lgc.png')}[/]")


def _hessian_hook(config: Any, console: Any) -> Callable[[Any], None] | None:
    """The trainer's curvature hook: estimate both networks' Hessians, store them, print one line each.

    An estimate that fails (for example a determinism check that does not hold) is
    reported and skipped: it never stops the training run.
    """
    if config.hessian_every == 0:
        return None
    from analysis.hessian import estimate_and_record

    def hook(trainer: Any) -> None:
        for network in ("g", "d"):
            try:
                (result,) = estimate_and_record(
                    trainer.writer, trainer.g, trainer.d, trainer.probe_real, trainer.probe_z, trainer.step,
                    networks=(network,), k=config.hessian_k,
                )
            except LandscapeError as err:
                _say(console, f"[yellow]Hessian at step {trainer.step:,} ({network}) skipped:[/] {err}")
                continue
            _say(
                console,
                f"Hessian at step {trainer.step:,} ({network}): {result.classification.label}, "
                f"eigenvalues {result.lambda_min:.3g} to {result.lambda_max:.3g} "
                f"({result.n_hvp} products, {result.seconds:.1f} s)",
            )

    return hook


def _say(console: Any, text: str) -> None:
    """One line on stdout; soft wrap so that paths are never broken or elided (users copy them)."""
    console.print(text, highlight=False, soft_wrap=True)


@contextmanager
def _progress(trainer: Any, console: Any) -> Iterator[Any]:
    """A rich progress bar (iterations/s, ETA, latest losses) and the callback that updates it."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    cfg = trainer.config
    progress = Progress(
        TextColumn(f"{cfg.arch} {cfg.dataset}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[losses]}"),
        console=console,
        refresh_per_second=5,
    )
    task = progress.add_task("train", total=trainer.schedule.total_iters, rate="", losses="")

    def update(tr: Any) -> None:
        speed = progress.tasks[task].speed
        losses = tr.latest_losses()
        text = "  ".join(f"{k.split('_')[0]} {v:.3f}" for k, v in losses.items())
        progress.update(task, completed=tr.step, rate=f"{speed:.1f} it/s" if speed else "", losses=text)

    with progress:
        yield update


@contextmanager
def _stop_on_sigint(trainer: Any, console: Any) -> Iterator[None]:
    """First Ctrl-C: stop cleanly after the current iteration; a second one interrupts at once."""

    def handler(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, previous)
        trainer.request_stop()
        console.print("Stopping after the current iteration (Ctrl-C again to stop at once)...", highlight=False)

    previous = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: keep Python's default handling
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
