"""`landscape record`: train a GAN with the paper's setup and record every iteration into a run file.

A thin face over :func:`trainers.record`: this module adds the progress bar,
Ctrl-C handling, the Hessian hook's messages and the final lines.
"""

from __future__ import annotations

import dataclasses
import inspect
import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Iterator, Optional

import typer

from landscape.cli.options import DeviceOption, choices
from landscape.config import (ARCHS, DATASETS, LOSSES, OPTIMIZERS, PRECISIONS, RESUME_FREE_SETTINGS, TrainConfig,
                              describe_default)
from landscape.errors import LandscapeError

#: TrainConfig's field defaults: the options' defaults are read from here, never restated.
_DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(TrainConfig)}


def _default(name: str) -> str:
    """`` (default: ...)`` for an option's help, read from the config's tables (:func:`describe_default`)."""
    return f" (default: {describe_default(name)})"


def record(
    ctx: typer.Context,
    arch: Annotated[Optional[str], typer.Option("--arch", help="Architecture. (required unless --resume)",
                                                show_default=False, **choices(ARCHS))] = None,
    data: Annotated[Optional[str], typer.Option("--data", help="Dataset. (required unless --resume)",
                                                show_default=False, **choices(DATASETS))] = None,
    epochs: Annotated[int, typer.Option(help="Training epochs (each a fresh shuffle, full batches).")
                      ] = _DEFAULTS["epochs"],
    batch_size: Annotated[
        Optional[int], typer.Option("--batch-size", help="Images per batch." + _default("batch_size"),
                                    show_default=False)
    ] = None,
    optimizer: Annotated[
        Optional[str],
        typer.Option(help=f"Optimizer of both networks (sgd-momentum: momentum {_DEFAULTS['momentum']:g})."
                     + _default("optimizer"), show_default=False, **choices(OPTIMIZERS)),
    ] = None,
    lr_g: Annotated[
        Optional[float],
        typer.Option("--lr-g", help="Generator learning rate." + _default("lr_g"), show_default=False),
    ] = None,
    lr_d: Annotated[
        Optional[float],
        typer.Option("--lr-d", help="Discriminator learning rate." + _default("lr_d")[:-1] + "; never --lr-g's "
                     "value: give both to change both)", show_default=False),
    ] = None,
    loss: Annotated[
        str,
        typer.Option(help="GAN loss: ns (non-saturating, the paper's), minimax, lsgan, wgan (weight clipping), "
                     "wgan-gp (gradient penalty), hinge.", **choices(LOSSES)),
    ] = _DEFAULTS["loss"],
    d_steps: Annotated[
        Optional[int],
        typer.Option("--d-steps", help="Discriminator (critic) updates per generator update; every one is recorded."
                     + _default("d_steps"), show_default=False),
    ] = None,
    clip: Annotated[
        Optional[float],
        typer.Option(help="--loss wgan: clip every critic weight to [-CLIP, CLIP]." + _default("clip"),
                     show_default=False),
    ] = None,
    gp_weight: Annotated[
        Optional[float],
        typer.Option("--gp-weight", help="--loss wgan-gp: weight of the gradient penalty." + _default("gp_weight"),
                     show_default=False),
    ] = None,
    smooth_real: Annotated[
        Optional[tuple[float, float]],
        typer.Option("--smooth-real", help="One-sided label smoothing (ns, minimax): real targets drawn from "
                     "U[LOW, HIGH], e.g. 0.8 1.1 or 0.9 0.9.", metavar="LOW HIGH", show_default=False),
    ] = None,
    smooth_fake: Annotated[
        Optional[tuple[float, float]],
        typer.Option("--smooth-fake", help="Two-sided label smoothing (ns, minimax): fake targets drawn from "
                     "U[LOW, HIGH], e.g. 0.0 0.3.", metavar="LOW HIGH", show_default=False),
    ] = None,
    unroll: Annotated[
        int,
        typer.Option(help="Generator loss through the discriminator unrolled K optimizer steps (Metz et al. 2017); "
                     "0: plain.", metavar="K"),
    ] = _DEFAULTS["unroll"],
    conditional: Annotated[
        bool, typer.Option("--conditional", help="Class-conditional G and D (labels embedded into both inputs).")
    ] = _DEFAULTS["conditional"],
    extragradient: Annotated[
        Optional[bool],
        typer.Option("--extragradient/--no-extragradient",
                     help="Extragradient: a look-ahead step of both players, then the step with its gradients from "
                     "the start (optimizer sgd)." + _default("extragradient"), show_default=False),
    ] = None,
    z_per_point: Annotated[
        Optional[bool],
        typer.Option("--z-per-point/--no-z-per-point",
                     help="Keep one z per training point, drawn once (with the whole set as one batch: a "
                     "deterministic loss)." + _default("z_per_point"), show_default=False),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed (weights, shuffles, z, dropout).")] = _DEFAULTS["seed"],
    out: Annotated[Optional[Path], typer.Option(help="Run file to write (default: runs/ARCH-DATA-SEED.h5).")] = None,
    device: DeviceOption = _DEFAULTS["device"],
    precision: Annotated[
        str,
        typer.Option(help="fp32: the paper's arithmetic; bf16: bfloat16 forward passes (a CPU with bfloat16 units "
                     "or a GPU), weights, losses and gradient norms stay float32; tf32: TF32 products on a GPU.",
                     **choices(PRECISIONS)),
    ] = _DEFAULTS["precision"],
    threads: Annotated[
        Optional[int],
        typer.Option(help="CPU threads for PyTorch. (default: $OMP_NUM_THREADS if set, else 1 on a CPU: runs that "
                     "share a machine do not slow each other down; a lone DCGAN run is faster with every core)",
                     show_default=False),
    ] = None,
    data_dir: Annotated[
        Optional[Path], typer.Option("--data-dir", help="Dataset root (default: $LANDSCAPE_DATA, else ./data).")
    ] = None,
    max_iters: Annotated[Optional[int], typer.Option("--max-iters", help="Stop after N iterations.")] = None,
    subset: Annotated[Optional[int], typer.Option(help="Train on the first N images only.")] = None,
    layer_norms: Annotated[
        bool, typer.Option("--layer-norms", help="Also record every parameter tensor's gradient norm.")
    ] = _DEFAULTS["layer_norms"],
    share_fake_pass: Annotated[
        bool,
        typer.Option(
            "--share-fake-pass",
            help="Reuse the G step's forward of D on the fakes in the D step: about 10% faster, but both steps "
            "then see one dropout mask (the paper's code draws a second; the default does too).",
        ),
    ] = _DEFAULTS["share_fake_pass"],
    hessian_every: Annotated[
        Optional[int],
        typer.Option(
            "--hessian-every",
            help="Estimate both networks' Hessian eigenvalues every N iterations and store them in the run "
            "(0: never; default: at the stage boundaries). Each estimate takes about a second for the vanilla "
            "GAN on a CPU, minutes for DCGAN.",
        ),
    ] = None,
    game_every: Annotated[
        Optional[int],
        typer.Option(
            "--game-every",
            help="Estimate the game Jacobian's spectrum (rotation, the kind of stationary point) every N iterations "
            "and store it in the run (0: never; default: as --hessian-every, so --hessian-every 0 switches both "
            "off). About 2 s per estimate for the vanilla GAN on a CPU.",
        ),
    ] = None,
    quality_every: Annotated[
        Optional[int],
        typer.Option(
            "--quality-every",
            help="Measure sample quality (classifier Inception Score, class KL, Frechet distance, precision/recall; "
            "a toy's modes covered) every N iterations and store it in the run (0: never; default: at the sample "
            "epochs). The dataset's classifier is trained once on first use and cached.",
        ),
    ] = None,
    quality_samples: Annotated[
        int, typer.Option("--quality-samples", help="Generated images per quality measurement (image datasets).")
    ] = _DEFAULTS["quality_samples"],
    classifier: Annotated[
        Optional[Path],
        typer.Option(help="Domain classifier weights file for the quality metrics. (default: the cached one)",
                     show_default=False),
    ] = None,
    resume_every: Annotated[
        Optional[int],
        typer.Option("--resume-every", help="Write the resume state (RUN.h5.resume: weights, optimizers, random "
                     "states) every N iterations and at the stage boundaries (0: never; default: about every 5 "
                     "minutes).", show_default=False),
    ] = None,
    resume: Annotated[
        Optional[Path],
        typer.Option("--resume", help="Continue the killed, interrupted or diverged run RUN.h5 from its resume "
                     "state, with its own settings; rows recorded after that state are dropped.", metavar="RUN.h5",
                     show_default=False),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing run file.")] = False,
    log_every: Annotated[
        float,
        typer.Option("--log-every", help="Where stdout is not a terminal (a log file, nohup, SLURM): print a "
                     "progress line every this many seconds."),
    ] = 30.0,
) -> None:
    """Train a GAN (defaults: the paper's setup) and record every iteration into a run file."""
    if not log_every > 0:
        raise LandscapeError(f"--log-every must be a positive number of seconds, got {log_every:g}.")
    if resume is not None:
        given = [name for name in _CONFIG_ARGS + ("out", "force")
                 if name not in _RESUME_FREE_ARGS and _given(ctx, name)]
        if given:
            flags = ", ".join(_flag(ctx, name) for name in given)
            raise LandscapeError(f"--resume continues a run with the settings in its file; drop {flags}.")
        config = resumed_config(resume, data_dir, resume_every)
        _record_with_progress(config, resume, log_every=log_every, classifier=classifier, resume=True)
        return
    if arch is None or data is None:
        raise LandscapeError("Missing option " + ("--arch" if arch is None else "--data")
                             + "; give --arch and --data (or --resume RUN.h5 to continue a run).")
    with settings_as_flags():
        config = _config({k: v for k, v in locals().items() if k in _CONFIG_ARGS})
    from trainers.recording import default_run_path

    path = out if out is not None else default_run_path(config)
    if path.is_dir():
        raise LandscapeError(f"{path} is a directory; give --out a file name such as {path / 'run.h5'}.")
    if path.exists() and not force:
        raise LandscapeError(f"{path} already exists; choose another --out, pass --force to overwrite it, or "
                             f"--resume {path} to continue it.")
    _record_with_progress(config, path, force=force, log_every=log_every, classifier=classifier)


#: The one table of the config-flag plumbing: a TrainConfig setting whose option parameter has another name.
#: Every other option of :func:`record` named like a TrainConfig field sets that field, and its flag is the
#: name with dashes (``batch_size`` -> ``--batch-size``): adding a setting is adding its option to the signature.
_PARAM_OF_SETTING = {"dataset": "data"}
_SETTING_OF_PARAM = {param: setting for setting, param in _PARAM_OF_SETTING.items()}
#: Setting names that are also common words in the library's sentences: left as words there.
_PROSE_SETTINGS = ("device",)

#: The options of :func:`record` that set a TrainConfig field, in the signature's order.
_CONFIG_ARGS = tuple(name for name in inspect.signature(record).parameters
                     if _SETTING_OF_PARAM.get(name, name) in _DEFAULTS)
#: Options --resume accepts: they change nothing in the run's numbers (the config's RESUME_FREE_SETTINGS).
_RESUME_FREE_ARGS = tuple(_PARAM_OF_SETTING.get(name, name) for name in RESUME_FREE_SETTINGS)


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether the option ``name`` was given on the command line (or by environment), not left at its default."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name != "DEFAULT"


def _flag(ctx: typer.Context, name: str) -> str:
    """The command-line spelling of parameter ``name``, e.g. ``--batch-size``."""
    for param in ctx.command.params:
        if param.name == name and param.opts:
            return max(param.opts, key=len)
    return name


def resumed_config(path: Path, data_dir: Optional[Path], resume_every: Optional[int]) -> Any:
    """The config stored in the run file at ``path``, with the data root and resume cadence given, if any."""
    from landscape.config import TrainConfig
    from trainers.recording import resumable_run

    stored = resumable_run(path).config
    config = TrainConfig.from_dict(stored, strict=False)
    changes = {}
    if data_dir is not None:
        changes["data_dir"] = str(data_dir)
    if resume_every is not None:
        changes["resume_every"] = resume_every
    with settings_as_flags():
        return config.replace(**changes) if changes else config


#: The settings whose names a library error may mention, and the flags that set them (derived from the options).
SETTING_FLAGS = {_SETTING_OF_PARAM.get(param, param): "--" + param.replace("_", "-") for param in _CONFIG_ARGS
                 if _SETTING_OF_PARAM.get(param, param) not in _PROSE_SETTINGS}


def as_flags(text: str) -> str:
    """``text`` (a library note) with each snake_case setting name (``hessian_every``) as the flag that sets it
    (``--hessian-every``): the user typed flags. Plain-word settings (``dataset``, ``seed``) are left as words."""
    import re

    names = [name for name in SETTING_FLAGS if "_" in name]
    pattern = r"(?<![\w-])(" + "|".join(map(re.escape, names)) + r")(?![\w-])"
    return re.sub(pattern, lambda m: SETTING_FLAGS[m.group(1)], text)


@contextmanager
def settings_as_flags() -> Iterator[None]:
    """Re-raise a config's one-sentence error with the command-line flags in place of the setting names."""
    import re

    try:
        yield
    except LandscapeError as err:
        pattern = r"(?<![\w-])(" + "|".join(map(re.escape, SETTING_FLAGS)) + r")(?![\w-])"
        raise LandscapeError(re.sub(pattern, lambda m: SETTING_FLAGS[m.group(1)], str(err))) from None


def _config(values: dict[str, Any]) -> TrainConfig:
    """The TrainConfig the flags describe, from the options' values by parameter name (the library checks every
    value): names as typed, case and spaces aside; paths as text."""
    from landscape.data import canonical_name

    settings: dict[str, Any] = {}
    for param, value in values.items():
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, str):
            value = value.strip().lower()
        settings[_SETTING_OF_PARAM.get(param, param)] = value
    settings["dataset"] = canonical_name(settings["dataset"])
    return TrainConfig(**settings)


def _record_with_progress(config: Any, path: Path, force: bool = False, log_every: float = 30.0,
                          classifier: Optional[Path] = None, resume: bool = False) -> None:
    """Record one run with a progress bar, Hessian and quality messages; Ctrl-C stops it cleanly. Exits 1 on divergence."""
    from landscape.cli.console import console
    from trainers import record

    state: dict[str, Any] = {}
    measurements = training_measurements(config, classifier, console)

    def on_start(trainer: Any) -> None:
        state["trainer"] = trainer
        show_notes(trainer, console)
        if resume:
            _say(console, f"Resuming {path} ({trainer.config.arch} {trainer.config.dataset}, seed "
                          f"{trainer.config.seed}) from its resume state")

    from landscape.progress import training_progress

    try:
        with training_progress(console, log_every) as progress, _stop_on_sigint(state, console):
            from landscape.cli.cost import cost_note  # one note, early on, when the run will take hours here

            progress = cost_note(progress, lambda text: _say(console, text))
            summary = record(config, path, overwrite=force, resume=resume, on_start=on_start, progress=progress,
                             measurements=measurements)
    except KeyboardInterrupt:
        trainer = state.get("trainer")
        if trainer is None:
            _say(console, "[yellow]Interrupted[/] before training started.")
        else:
            kept = f"the run file keeps every recorded row: {path}; continue it with landscape record --resume {path}"
            _say(console, f"[yellow]Interrupted[/] after {trainer.step} iterations; {kept}")
        raise typer.Exit(130) from None
    if summary.resumed_from is not None:
        dropped = f"; the {summary.dropped_rows:,} rows recorded after it were dropped" if summary.dropped_rows else ""
        _say(console, f"Resumed from iteration {summary.resumed_from:,}{dropped}")
    if summary.status == "diverged":
        _say(console, f"[bold red]Diverged:[/] {summary.message}; the run file keeps every recorded row: {path}")
        raise typer.Exit(1)
    _say(console, f"Recorded {summary.iterations:,} iterations into [bold]{path}[/]")
    _say(console, f"Next: [bold]landscape lgc {path} --out {path.with_name(path.stem + '-lgc.png')}[/]")


def show_notes(trainer: Any, console: Any) -> None:
    """One ``Note:`` line per setting the trainer resolved differently from the config's request, naming flags."""
    from landscape.progress import show_notes as show

    show(trainer, console, rewrite=as_flags)


def training_measurements(config: Any, classifier: Optional[Path], console: Any) -> list[Any]:
    """The run's measurements (``analysis.measurements.for_run``), each printing one line per result.

    An image run that measures quality gets its dataset's classifier now, before training starts
    (``--classifier``'s file, else the cache's, else trained here with a progress bar), and its
    sample size is checked against the classifier's test set.
    """
    from analysis.measurements import for_run
    from landscape.data.toys import is_toy

    context: dict[str, Any] = {}
    if not is_toy(config.dataset) and config.quality_every != 0:
        from analysis.quality.classifiers import check_sample_size
        from analysis.quality.classifiers import resolve_reference
        from landscape.data.locate import locate_split
        from landscape.data.registry import get_spec
        from landscape.data.roots import resolve_data_root

        # the run needs its dataset before any classifier: without it, say that (not that no classifier can be
        # trained); and the classifier's first training takes minutes, so the note says how to do without it
        locate_split(get_spec(config.dataset), "train", resolve_data_root(config.data_dir))
        context["reference"] = resolve_reference(
            config.dataset, config.data_dir, classifier, console,
            skip="To record without the sample-quality metrics, give --quality-every 0.")
        with settings_as_flags():
            check_sample_size(config.quality_samples, context["reference"], "generated")
    return for_run(config, say=lambda text: _say(console, text), **context)


def _say(console: Any, text: str) -> None:
    """One line on stdout; soft wrap so that paths are never broken or elided (users copy them)."""
    from landscape.progress import say

    say(console, text)


@contextmanager
def _stop_on_sigint(state: dict[str, Any], console: Any) -> Iterator[None]:
    """First Ctrl-C once training runs: stop cleanly after the current iteration; a second one interrupts at once.

    Before the trainer exists (while the dataset loads) Ctrl-C interrupts at once.
    """

    def handler(signum: int, frame: Any) -> None:
        trainer = state.get("trainer")
        if trainer is None:
            raise KeyboardInterrupt
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

#: The commands this module adds to ``landscape`` (name -> function, or a typer app for a group); see landscape.cli.
COMMANDS = {"record": record}
