"""Analysis across a sweep: LGCs faceted by factors (`lgc_grid`, `landscape lgc DIR --row/--col`) and one verdict
table per sweep (`sweep_verdicts`, `landscape report DIR`).

The sweep is built without Dask: four tiny real runs (2 optimizers x 2 seeds, 32 iterations each) recorded with
``trainers.record``, then the folder's ``sweep.toml`` and ``sweep.csv`` written as ``landscape sweep`` writes them.
A second, synthetic sweep (RunWriter) carries sample-quality measurements and a pending run without a file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from analysis.lgc import lgc_grid
from analysis.stationarity import sweep_verdicts
from landscape.errors import LandscapeError
from landscape.sweeps.index import Sweep, open_sweep, prepare_folder, write_index
from landscape.sweeps.spec import parse_spec
from landscape.writer import RunWriter

REPO = Path(__file__).resolve().parents[1]
OPTIMIZERS, SEEDS = ("adam", "sgd"), (0, 1)
ITERATIONS = 32  # 2 epochs of 1,024 images in batches of 64
BASE = {"arch": "vanilla", "dataset": "mnist", "epochs": 2, "batch_size": 64, "subset": 1024, "hessian_every": 0,
        "quality_every": 0, "device": "cpu", "threads": 1}


def landscape(*args: str | os.PathLike) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="200")  # keep rich from wrapping the one-line messages
    return subprocess.run([sys.executable, "-m", "landscape", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=300)


def assert_one_sentence_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def index_row(name: str, factors: dict, status: str = "finished", iterations: int = ITERATIONS,
              path: str | None = None, reason: str = "") -> dict:
    return {"run": name, **factors, "status": status, "iterations": iterations, "planned": ITERATIONS,
            "seconds": 0.5, "reason": reason, "path": path if path is not None else f"{name}.h5"}


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory, shared_data) -> Path:
    """A finished sweep of four tiny real runs: optimizer (adam, sgd) x seed (0, 1)."""
    from landscape.config import TrainConfig
    from trainers import record

    folder = tmp_path_factory.mktemp("sweep") / "optimizers"
    spec = parse_spec({"base": {**BASE, "data_dir": str(shared_data)},
                       "grid": {"optimizer": list(OPTIMIZERS), "seed": list(SEEDS)}})
    prepare_folder(spec, folder)
    rows = []
    for o in OPTIMIZERS:
        for s in SEEDS:
            name = f"optimizer-{o}_seed-{s}"
            record(TrainConfig(arch="vanilla", dataset="mnist", epochs=2, batch_size=64, subset=1024, seed=s,
                               optimizer=o, hessian_every=0, quality_every=0, device="cpu", threads=1,
                               data_dir=str(shared_data)), folder / f"{name}.h5")
            rows.append(index_row(name, {"optimizer": o, "seed": s}))
    assert [run.name for run in spec.runs] == [row["run"] for row in rows]  # the spec names runs as we did
    write_index(folder, rows, factors=("optimizer", "seed"))
    return folder


@pytest.fixture(scope="module")
def sweep(sweep_folder) -> Sweep:
    return open_sweep(sweep_folder)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_open_sweep_has_the_factors_and_stacked_columns(sweep):
    assert sweep.factors == ("optimizer", "seed")
    assert [run.name for run in sweep] == [f"optimizer-{o}_seed-{s}" for o in OPTIMIZERS for s in SEEDS]
    tidy = sweep.tidy()
    assert {"run", "optimizer", "seed", "network", "loss", "grad_norm"} <= set(tidy.columns)
    pairs = tidy[["run", "optimizer", "seed"]].drop_duplicates()
    assert len(pairs) == 4 and set(pairs["optimizer"]) == set(OPTIMIZERS)


# ---------------------------------------------------------------------------- factors named like data columns
LOSSES_SWEPT = ("ns", "wgan")


def write_synthetic_run(path: Path, config: dict, iterations: int = 40, scale: float = 1.0, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    with RunWriter(path, config) as writer:
        for step in range(iterations):
            writer.log(step, epoch=step // 20, g_loss=scale * (1 + 0.1 * rng.normal()), g_grad_norm=np.exp(-step / 30),
                       d_loss=scale * (1.3 + 0.1 * rng.normal()), d_grad_norm=np.exp(0.3 * rng.normal()))


@pytest.fixture(scope="module")
def loss_sweep_folder(tmp_path_factory) -> Path:
    """A synthetic sweep over loss (ns, wgan) x optimizer (adam, sgd): each run file holds a full TrainConfig."""
    from landscape.config import TrainConfig

    folder = tmp_path_factory.mktemp("losses") / "losses"
    folder.mkdir()
    rows = []
    for i, loss in enumerate(LOSSES_SWEPT):
        for j, optimizer in enumerate(OPTIMIZERS):
            name = f"loss-{loss}_optimizer-{optimizer}"
            config = TrainConfig(loss=loss, optimizer=optimizer, device="cpu").to_dict()
            write_synthetic_run(folder / f"{name}.h5", config, scale=10.0 ** i, seed=2 * i + j)
            rows.append(index_row(name, {"loss": loss, "optimizer": optimizer}, iterations=40))
    write_index(folder, rows, factors=("loss", "optimizer"))
    return folder


def test_a_factor_named_loss_is_kept_beside_the_numeric_loss(loss_sweep_folder):
    sweep = open_sweep(loss_sweep_folder)
    assert sweep.factor_columns == {"loss": "cfg_loss", "optimizer": "optimizer"}
    tidy, metrics = sweep.tidy(), sweep.metrics
    assert tidy["loss"].dtype.kind == "f"  # the numeric loss, as in each run's own tidy frame
    for frame in (tidy, metrics):  # the factor has the same column in every stacked frame
        assert set(frame["cfg_loss"]) == set(LOSSES_SWEPT)
    assert "loss" not in metrics.columns
    groups = tidy.groupby(["cfg_loss", "optimizer"], observed=True)["run"].unique()
    assert len(groups) == 4 and all(len(runs) == 1 for runs in groups)
    assert groups[("wgan", "sgd")].tolist() == ["loss-wgan_optimizer-sgd"]
    by_factor = tidy.groupby(list(sweep.factor_columns.values()), observed=True).size()
    assert len(by_factor) == 4
    # each run's rows keep their own numeric losses (wgan's are ten times larger here)
    assert tidy[tidy["cfg_loss"] == "wgan"]["loss"].median() > 5 * tidy[tidy["cfg_loss"] == "ns"]["loss"].median()


def test_every_config_setting_that_can_collide_keeps_both(sweep):
    """A real run's config settings named like any data column of a stacked frame (today: loss) get the prefix."""
    import dataclasses

    from landscape.config import TrainConfig
    from landscape.reader import CONFIG_PREFIX, TIDY_FRAME_COLUMNS

    data_columns = {"run", *TIDY_FRAME_COLUMNS, *sweep[0].fields}
    colliding = sorted({f.name for f in dataclasses.fields(TrainConfig)} & data_columns)
    assert "loss" in colliding
    tidy, metrics = sweep.tidy(), sweep.metrics
    for name in colliding:
        assert sweep.config_columns[name] == CONFIG_PREFIX + name
        for frame in (tidy, metrics):
            assert (frame[CONFIG_PREFIX + name] == sweep[0].config[name]).all()
        assert name not in metrics.columns or name in sweep[0].fields  # never a setting under a data column's name
    assert tidy["loss"].dtype.kind == "f"
    others = [key for key in sweep[0].config if key not in colliding]
    assert all(sweep.config_columns[key] == key for key in others)  # the rest keep their names
    assert {"optimizer", "seed", "arch"} <= set(tidy.columns) and {"optimizer", "seed"} <= set(metrics.columns)


@pytest.mark.parametrize("name", ["run", "step", "epoch", "stage", "stage_label", "network", "loss", "grad_norm",
                                  "time", "g_loss", "d_grad_norm"])
def test_any_setting_named_like_a_data_column_keeps_both(tmp_path, name):
    """The rule is general: a config key named like any column of either stacked frame is cfg_<name> in both."""
    from landscape.reader import open_runs

    paths = []
    for value in ("a", "b"):
        path = tmp_path / f"{name}-{value}.h5"
        write_synthetic_run(path, {"arch": "vanilla", "dataset": "mnist", name: value, "seed": 3}, iterations=10)
        paths.append(path)
    runs = open_runs(paths)
    assert runs.config_columns == {"arch": "arch", "dataset": "dataset", name: f"cfg_{name}", "seed": "seed"}
    for frame, own in ((runs.tidy(), runs[0].tidy()), (runs.metrics, runs[0].metrics)):
        assert list(frame[f"cfg_{name}"].unique()) == ["a", "b"]
        if name in own.columns:  # the data column is untouched
            np.testing.assert_array_equal(frame[name].to_numpy()[:len(own)], own[name].to_numpy())
        assert frame["run"].tolist()[0] == paths[0].stem
    if name == "run":  # facet "run" means the runs' names (lgc_grid's own meaning)
        return
    grid = lgc_grid(runs.tidy(), col=name, network="g")  # a frame's cfg_<name> column facets by the setting's name
    assert grid.col_names == ["a", "b"] and grid.axes[0, 0].get_title().startswith(f"{name} = a")


def test_lgc_grid_facets_by_the_loss_factor_in_every_input(loss_sweep_folder):
    sweep = open_sweep(loss_sweep_folder)
    for data in (sweep, sweep.tidy(), list(sweep)):
        grid = lgc_grid(data, row="loss", col="optimizer")
        assert grid.row_names == list(LOSSES_SWEPT) and grid.col_names == list(OPTIMIZERS)
        assert grid.axes[1, 0].get_title() == "loss = wgan | optimizer = adam"
        assert grid.pooled == {}


def test_pooling_over_a_factor_is_said_in_the_figure(loss_sweep_folder):
    sweep = open_sweep(loss_sweep_folder)
    grid = lgc_grid(sweep, row="loss")  # each row pools both optimizers
    assert grid.pooled == {"optimizer": ["adam", "sgd"]}
    assert grid.note == "pooled over optimizer: adam, sgd"
    assert grid.figure.get_suptitle() == "pooled over optimizer: adam, sgd"
    assert grid.panel_runs[("wgan", "g")] == ["loss-wgan_optimizer-adam", "loss-wgan_optimizer-sgd"]

    col_only = lgc_grid(sweep, col="optimizer", suptitle="Losses")  # pools the losses, shows the generator
    assert col_only.note == "generator in every panel; pooled over loss: ns, wgan"
    assert col_only.figure.get_suptitle() == "Losses\ngenerator in every panel; pooled over loss: ns, wgan"

    separate = lgc_grid(sweep, row="loss", col="optimizer", network="d")
    assert separate.pooled == {} and separate.note == "discriminator in every panel"  # ns's D and wgan's critic
    # plain runs (no sweep): any setting they differ in counts, the loss's own defaults (lr, d_steps, ...) too
    pooled = lgc_grid(list(sweep), row="optimizer").pooled
    assert pooled["loss"] == ["ns", "wgan"] and pooled["d_steps"] == [1, 5] and "data_dir" not in pooled


def test_cli_says_what_the_panels_pool(loss_sweep_folder, tmp_path):
    result = landscape("lgc", loss_sweep_folder, "--row", "loss", "--out", tmp_path / "rows.png", "--dpi", "30")
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith("Note:")]
    assert notes == ["Note: each panel pools runs that differ in optimizer (pooled over optimizer: adam, sgd); "
                     "give --col optimizer to separate them."]

    result = landscape("lgc", loss_sweep_folder, "--col", "optimizer", "--out", tmp_path / "cols.png", "--dpi", "30")
    assert result.returncode == 0, result.stderr
    assert "pooled over loss: ns, wgan); give --row loss to separate them." in result.stderr
    assert "Note: with --col every panel shows one network, the generator (g); choose another with --network." \
        in result.stderr

    result = landscape("lgc", loss_sweep_folder, "--row", "loss", "--col", "optimizer", "-n", "d", "--out",
                       tmp_path / "both.png", "--dpi", "30")
    assert result.returncode == 0, result.stderr
    assert "Note:" not in result.stderr  # nothing pooled, the network chosen


# ---------------------------------------------------------------------------- lgc_grid with row / col
def test_rows_by_factor_pool_the_runs_of_each_value(sweep):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # faceting is not the deprecated alias
        grid = lgc_grid(sweep, row="optimizer")
    assert grid.axes.shape == (2, 4)
    assert grid.row_names == ["adam", "sgd"] and grid.col_names == ["g", "d_real", "d_fake", "d"]
    assert (grid.row, grid.col) == ("optimizer", None)
    for r, value in enumerate(OPTIMIZERS):
        for ax in grid.axes[r]:
            assert ax.get_title().startswith(f"optimizer = {value} (2 runs)\n")
        assert grid.panel_runs[(value, "g")] == [f"optimizer-{value}_seed-{s}" for s in SEEDS]
        # every iteration of both seeds is in the panel, one layer per stage
        drawn = sum(len(c.get_offsets()) for c in grid.axes[r, 0].collections)
        assert drawn == 2 * ITERATIONS
    assert grid.axes[0, 0].get_title().endswith("generator")
    assert grid.axes[0, -1].get_legend() is not None  # the stages, beside each row


def test_rows_and_columns_show_one_network(sweep, sweep_folder):
    grid = lgc_grid(sweep, row="optimizer", col="seed", sharey=True, log_y=True)
    assert grid.axes.shape == (2, 2) and grid.network == "g"
    assert [ax.get_title() for ax in grid.axes.ravel()] == [
        "optimizer = adam | seed = 0", "optimizer = adam | seed = 1",
        "optimizer = sgd | seed = 0", "optimizer = sgd | seed = 1"]
    assert grid.axes[1, 1].get_xlabel() == "loss (generator)"
    assert len({ax.get_ylim() for ax in grid.axes.ravel()}) == 1  # sharey: one span
    assert grid.panel_runs[("sgd", 1)] == ["optimizer-sgd_seed-1"]
    assert all(ax.get_yscale() == "log" for ax in grid.axes.ravel())

    # the same grid from the folder, a tidy frame with the factor columns, or the runs as a list
    for data in (sweep_folder, sweep.tidy(), list(sweep)):
        other = lgc_grid(data, row="optimizer", col="seed", network="d")
        assert other.axes.shape == (2, 2) and other.network == "d"
        assert other.row_names == ["adam", "sgd"] and other.col_names == [0, 1]
    col_only = lgc_grid(sweep, col="optimizer")
    assert col_only.axes.shape == (1, 2)
    assert [ax.get_title() for ax in col_only.axes[0]] == ["optimizer = adam (2 runs)", "optimizer = sgd (2 runs)"]


def test_values_follow_the_index_not_the_alphabet(sweep):
    index = sweep.index.iloc[::-1].reset_index(drop=True)  # a spec listing sgd before adam and seed 1 before 0
    reordered = Sweep(list(sweep), sweep.folder, sweep.factors, index)
    grid = lgc_grid(reordered, row="optimizer", col="seed")
    assert grid.row_names == ["sgd", "adam"] and grid.col_names == [1, 0]


def test_unknown_factor_is_one_sentence_listing_the_factors(sweep):
    with pytest.raises(LandscapeError, match=r"Unknown factor 'optimiser'.*did you mean 'optimizer'.*"
                                             r"factors are optimizer, seed\.$") as err:
        lgc_grid(sweep, row="optimiser")
    assert "\n" not in str(err.value)
    with pytest.raises(LandscapeError, match="differ in are optimizer, seed"):
        lgc_grid(list(sweep), col="lr")  # plain runs: the settings they differ in
    with pytest.raises(LandscapeError, match="both 'seed'"):
        lgc_grid(sweep, row="seed", col="seed")
    with pytest.raises(LandscapeError, match="one network"):
        lgc_grid(sweep, row="optimizer", col="seed", network=["g", "d"])
    with pytest.raises(LandscapeError, match="facet_stages goes with one row per run"):
        lgc_grid(sweep, row="optimizer", facet_stages=True)


def test_without_row_or_col_lgc_grid_is_still_the_deprecated_alias(sweep):
    with pytest.warns(DeprecationWarning, match="use lgc_figure"):
        grid = lgc_grid(sweep, ("g",))  # the first release's lgc_grid(runs, networks)
    assert grid.axes.shape == (4, 1) and grid.row_names == [run.name for run in sweep]


# ---------------------------------------------------------------------------- landscape lgc DIR
def test_cli_lgc_draws_a_sweep_by_factor(sweep_folder, tmp_path):
    png = tmp_path / "x.png"
    result = landscape("lgc", sweep_folder, "--row", "optimizer", "--out", png, "--dpi", "40")
    assert result.returncode == 0, result.stderr
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "(2 x 4 panel(s), rows by optimizer; 4 run(s)" in result.stdout

    # run files that are not a sweep folder may be faceted too: their configs have the settings
    files = sorted(sweep_folder.glob("*.h5"))
    grid_png = tmp_path / "files.png"
    result = landscape("lgc", *files, "--row", "optimizer", "--col", "seed", "-n", "d", "--out", grid_png,
                       "--dpi", "40")
    assert result.returncode == 0, result.stderr
    assert "(2 x 2 panel(s), rows by optimizer, columns by seed; 4 run(s)" in result.stdout
    assert grid_png.exists()


@pytest.mark.parametrize("args, fragments", [
    (["--row", "optimiser"], ["Unknown factor 'optimiser'", "optimizer, seed"]),
    (["--row", "seed", "--col", "optimizer", "-n", "g", "-n", "d"], ["--col", "one network"]),
    (["--row", "seed", "--facet-stages"], ["--facet-stages", "--row"]),
    (["--row", "seed", "--col", "seed"], ["--row and --col are both seed"]),
])
def test_cli_lgc_user_errors(sweep_folder, tmp_path, args, fragments):
    result = landscape("lgc", sweep_folder, *args, "--out", tmp_path / "x.png")
    assert_one_sentence_error(result, *fragments)
    assert not (tmp_path / "x.png").exists()


def test_cli_refuses_a_sweep_folder_among_run_files(sweep_folder, tmp_path):
    result = landscape("lgc", sweep_folder, sweep_folder / "optimizer-adam_seed-0.h5", "--out", tmp_path / "x.png")
    assert_one_sentence_error(result, "is a sweep's folder", "give it alone")


# ---------------------------------------------------------------------------- one verdict table
def test_sweep_verdicts_one_row_per_run_and_network(sweep):
    result = sweep_verdicts(sweep)
    table = result.table
    assert list(table.columns[:4]) == ["optimizer", "seed", "run", "network"]
    assert len(table) == 4 * 4 and table["verdict"].notna().all()
    assert list(dict.fromkeys(table["run"])) == [run.name for run in sweep]
    report_verdicts = result.report.verdicts.set_index(["run", "network"])["verdict"]
    for row in table.to_dict("records"):  # the verdicts are stationarity_report's
        assert row["verdict"] == report_verdicts[(row["run"], row["network"])]
    assert "inception_score" not in table.columns  # no quality measured
    summary = result.summary
    assert list(summary["optimizer"].unique()) == ["adam", "sgd"] and (summary["runs"] == 2).all()


def test_cli_report_prints_one_table_and_json(sweep_folder):
    result = landscape("report", sweep_folder)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    headers = [line for line in lines if line.split()[:4] == ["optimizer", "seed", "run", "network"]]
    assert len(headers) == 1  # one verdict table ...
    start = lines.index(headers[0])
    assert sum(1 for line in lines[start + 1:start + 17] if "optimizer-" in line) == 16
    assert "STATIONARITY REPORT" in lines[0] and "TRENDS" not in result.stdout  # ... not the per-run report

    result = landscape("report", sweep_folder, "--format", "json")
    assert result.returncode == 0, result.stderr
    content = json.loads(result.stdout)
    assert content["factors"] == ["optimizer", "seed"] and len(content["verdicts"]) == 16
    assert {"optimizer": "adam", "seed": 0, "run": "optimizer-adam_seed-0"}.items() <= content["verdicts"][0].items()


def test_quality_and_runs_without_a_file(tmp_path):
    """Last Inception Score and class KL per run; a pending run of the index gets a row with its status."""
    folder = tmp_path / "lr"
    folder.mkdir()
    rows, rng = [], np.random.default_rng(0)
    for i, lr in enumerate((1e-3, 1e-4)):
        name = f"lr_g-{lr:g}"
        with RunWriter(folder / f"{name}.h5", {"arch": "vanilla", "dataset": "mnist", "lr_g": lr}) as writer:
            for step in range(120):
                writer.log(step, epoch=step // 40, g_loss=1 + 0.1 * rng.normal(), g_grad_norm=np.exp(-step / 60),
                           d_loss=1.3 + 0.1 * rng.normal(), d_grad_norm=np.exp(0.3 * rng.normal()))
            for step, score in ((40, 2.0), (120, 3.0 + i)):
                writer.add_quality(step, {"inception_score": score, "class_kl": 1 / score}, n=100, epoch=step // 40)
        rows.append(index_row(name, {"lr_g": lr}, iterations=120))
    rows.append(index_row("lr_g-1e-05", {"lr_g": 1e-5}, status="pending", iterations=0))
    write_index(folder, rows, factors=("lr_g",))

    result = sweep_verdicts(folder)
    table = result.table
    assert list(table.columns) == ["lr_g", "run", "network", "status", "verdict", "whole_run", "grad_norm_median",
                                   "inception_score", "class_kl"]
    assert table[table["run"] == "lr_g-0.0001"]["inception_score"].tolist() == [4.0, 4.0]  # g and d rows
    assert table[table["run"] == "lr_g-0.001"]["class_kl"].iloc[0] == pytest.approx(1 / 3)
    pending = table[table["run"] == "lr_g-1e-05"]
    assert len(pending) == 1 and pending["status"].iloc[0] == "pending" and pending["verdict"].isna().all()
    assert any("no iterations to test yet" in note for note in result.notes)
    text = result.to_markdown()
    assert "| lr_g" in text and "IS" in text and "pending" in text
    json.dumps(result.to_dict())  # JSON-ready
