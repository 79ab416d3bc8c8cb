"""`landscape game`: the game Jacobian's spectrum at a run's checkpoints, or Berard et al.'s path angle between two.

A thin face over :mod:`analysis.game`: for each chosen checkpoint it rebuilds both networks,
computes ``k`` eigenvalues of the chosen part of the spectrum of the game Jacobian on the run's
probe batch (ARPACK on Jacobian-vector products, or the dense Jacobian with ``--exact``), the
players' own Hessians and the interaction blocks, the rotation measures, ``||v||`` and the label,
and writes each estimate into the run file under ``/game/<step>`` as soon as it is done
(atomically). ``--path A B`` instead evaluates the game's gradient field along the straight line
between two checkpoints (nothing is stored) and, with ``--plot``, draws the path-angle plot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from landscape.cli.options import DeviceOption, SeedOption, StagesOption, StepsOption, ThreadsOption, choices
from landscape.stages import DEFAULT_STAGES

WHICH_CHOICES = ("LM", "LR", "SR", "LI")


def _parse_which(texts: list[str] | None) -> list[str]:
    from landscape.errors import LandscapeError, unknown_choice

    chosen: list[str] = []
    for text in texts or ["LM"]:
        for part in text.split(","):
            part = part.strip().upper()
            if part not in WHICH_CHOICES:
                raise LandscapeError(unknown_choice("--which", part, WHICH_CHOICES))
            if part not in chosen:
                chosen.append(part)
    return chosen


def _check_options(k: int, tol: float, label_tol: float, points: int, plot: Optional[Path]) -> None:
    from landscape.errors import LandscapeError

    if k < 1:
        raise LandscapeError(f"--k must be at least 1, got {k}.")
    if not 0 < tol < 1:
        raise LandscapeError(f"--tol must be between 0 and 1 (relative residual), got {tol}.")
    if not 0 <= label_tol < 1:
        raise LandscapeError(f"--label-tol must be in [0, 1) (relative to the largest |eigenvalue|), got {label_tol}.")
    if points < 2:
        raise LandscapeError(f"--path-points must be at least 2, got {points}.")
    if plot is not None:
        from landscape.cli.options import check_figure_path

        check_figure_path(plot, "--plot")


def _rebuild(run: Any, step: int, device: str) -> tuple[Any, Any]:
    """Both networks at ``step``; one sentence when the checkpoint does not fit the run's architecture."""
    from landscape.errors import LandscapeError
    from trainers.models import load_models

    try:
        return load_models(run, step, device)
    except LandscapeError:
        raise
    except (RuntimeError, KeyError, ValueError, TypeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise LandscapeError(f"{run.path}: the networks cannot be rebuilt from the checkpoint at step {step} "
                             f"({first[:160]}); the checkpoint does not fit the run's config.") from None


def _table(results: list[Any], stage_of: dict[int, int]) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(title="Game Jacobian", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False,
                  collapse_padding=True)
    for name in ("step", "stage", "max|λ|", "min Re λ", "rotation", "‖v‖", "H_G λmin", "H_D λmin", "σ_GD", "σ_DG",
                 "conv.", "label", "products"):
        table.add_column(name, justify="left" if name == "label" else "right", no_wrap=name != "label")
    for r in results:
        b = r.blocks
        conv = sum(int(p.converged.sum()) for p in r.parts.values())
        total = sum(len(p.converged) for p in r.parts.values())
        table.add_row(str(r.step), str(stage_of.get(r.step, "")), f"{r.spectral_radius:.4g}", f"{r.label.min_real:.3g}",
                      f"{r.rotation.rotation:.2f}", f"{r.v_norm:.3g}",
                      "-" if b is None else f"{b.hessian_1[0]:.3g}", "-" if b is None else f"{b.hessian_2[0]:.3g}",
                      "-" if b is None else f"{b.sigma_12:.3g}", "-" if b is None else f"{b.sigma_21:.3g}",
                      f"{conv}/{total}" if conv == total else f"[red]{conv}/{total}[/]", r.label.label,
                      f"{r.n_products:,}")
    first = results[0].label
    table.caption = (f"J is the Jacobian of the players' gradients (Mescheder's eigenvalues are these negated): stable "
                     f"when every real part > tol. Labels rest on {first.stability_basis}; tol = {first.tol_rel:g} × max|λ|; "
                     f"rotational: |Im λ|/|λ| > {first.rotation_threshold:.3f}; Nash candidate: both players' Hessians "
                     "PSD within tol.")
    table.caption_justify = "left"
    return table


def game(
    run_file: Annotated[Path, typer.Argument(metavar="RUN.h5", help="Run file with checkpoints and a probe batch.",
                                             show_default=False)],
    steps: StepsOption = None,
    k: Annotated[int, typer.Option("--k", help="Eigenvalues of the game Jacobian per part of the spectrum.")] = 6,
    which: Annotated[Optional[list[str]], typer.Option(
        "--which", help="Part of the spectrum: LM (largest magnitude), LR / SR (largest / smallest real part), LI "
        "(largest imaginary part); repeatable or comma-separated. (default: LM)", show_default=False,
        **choices(WHICH_CHOICES))] = None,
    exact: Annotated[bool, typer.Option("--exact", help="Build the dense Jacobian and use numpy.linalg.eig "
                                        "(small networks only).")] = False,
    blocks: Annotated[bool, typer.Option("--blocks/--no-blocks", help="Also estimate the players' own Hessians and "
                                         "the interaction blocks (needed for the Nash label).")] = True,
    tol: Annotated[float, typer.Option(help="Converged when residual ≤ tol × max|eigenvalue|.")] = 1e-3,
    label_tol: Annotated[float, typer.Option("--label-tol", help="Real parts and Hessian eigenvalues within "
                                             "label-tol × max|eigenvalue| of zero count as zero.")] = 1e-3,
    path: Annotated[Optional[tuple[int, int]], typer.Option(
        "--path", metavar="A B", help="Instead: the path angle between the checkpoints A and B (nothing stored).",
        show_default=False)] = None,
    path_points: Annotated[int, typer.Option("--path-points", help="Points along the path, alpha in [-0.1, 1.1].")] = 100,
    plot: Annotated[Optional[Path], typer.Option(
        help="Also draw the eigenvalues and rotation over training (or, with --path, the path-angle plot) into this "
        ".png/.pdf/.svg.", show_default=False)] = None,
    stages: StagesOption = DEFAULT_STAGES,
    device: DeviceOption = "auto",
    seed: SeedOption = 0,
    threads: ThreadsOption = None,
) -> None:
    """Game Jacobian eigenvalues, rotation and labels at checkpoints (stored in the run), or a path angle."""
    from landscape.cli.console import console
    from landscape.cli.options import (check_measure_options, checkpoints_to_measure, measure_device, measuring,
                                       save_figure, use_file_backend)
    from landscape.errors import LandscapeError

    parts = _parse_which(which)
    _check_options(k, tol, label_tol, path_points, plot)
    check_measure_options(stages, threads)

    from analysis.probe_loss import run_probe

    path_steps = [str(s) for s in path] if path is not None else None
    run, chosen = checkpoints_to_measure(run_file, ",".join(path_steps) if path_steps else steps, "game")
    run_probe(run)
    device = measure_device(device)
    g, d = _rebuild(run, chosen[0], device)
    n = sum(p.numel() for p in g.parameters() if p.requires_grad) + sum(
        p.numel() for p in d.parameters() if p.requires_grad)
    if k >= n:
        raise LandscapeError(f"--k {k} is not smaller than the game's {n:,} parameters; ask for fewer eigenvalues.")
    for step in chosen[1:]:
        _rebuild(run, step, device)

    if path is not None:
        if len(set(path)) < 2:
            raise LandscapeError(f"--path needs two different checkpoints, got {path[0]} twice.")
        from analysis.game import path_angle

        with measuring(run, device, threads):
            result = path_angle(run, path[0], path[1], points=path_points, device=device)
        i0, i1 = int(abs(result.alpha - 0).argmin()), int(abs(result.alpha - 1).argmin())
        console.print(f"Path from step {path[0]} to {path[1]} (distance {result.distance:.4g}, {path_points} points): "
                      f"‖v‖ {result.v_norm[i0]:.3g} → {result.v_norm[i1]:.3g} (min {result.v_norm.min():.3g} at α = "
                      f"{result.alpha[result.v_norm.argmin()]:.2f}); cos(v, path) {result.cosine[i0]:.3f} → "
                      f"{result.cosine[i1]:.3f}.", highlight=False, soft_wrap=True)
        if plot is not None:
            use_file_backend()
            import matplotlib.pyplot as plt

            from analysis.game.plot import pathangleplot

            fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
            pathangleplot(result, ax=ax)
            ax.set_title(f"{run.name}: path angle, step {path[0]} → {path[1]}", fontsize="medium")
            save_figure(fig, plot)
            console.print(f"Wrote {plot}.", highlight=False, soft_wrap=True)
        return

    from analysis.game import estimate_game
    from analysis.game.storage import store

    method = "exact" if exact else "auto"
    results = []
    with measuring(run, device, threads):
        for step in chosen:
            with console.status(f"game Jacobian at step {step}"):
                result = estimate_game(run, step, device=device, k=k, which=parts, method=method, tol=tol,
                                       blocks=blocks, label_tol=label_tol, seed=seed,
                                       exact_max_params=n if exact else 2000)
            store(result, run_file)
            results.append(result)
    console.print(_table(results, dict(zip(chosen, run.stage_of(chosen, stages).tolist()))))
    console.print(f"Stored {len(results)} estimate(s) in [bold]{run_file}[/] under /game.", highlight=False,
                  soft_wrap=True)
    if plot is not None:
        use_file_backend()
        from analysis.game.plot import game_figure
        from landscape.reader import open_run

        save_figure(game_figure(open_run(run_file), stages=stages, lgc=False), plot)
        console.print(f"Wrote {plot}.", highlight=False, soft_wrap=True)

#: The commands this module adds to ``landscape`` (name -> function, or a typer app for a group); see landscape.cli.
COMMANDS = {"game": game}
