"""Stationarity statistics and report on synthetic series with known ground truth.

The series are built so the right answer is known: a gradient norm decaying
exponentially (approaching stationarity, known log slope), flat noise (no trend),
a rising norm (moving away) and a loss plateau followed by a descent (stagnation
on the plateau, of known length). Counts are checked exactly on constructed
thresholds, slopes against the true ones.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.stationarity import (
    noise_level,
    stagnant_mask,
    stagnation_segments,
    stationarity_figure,
    stationarity_report,
    stationarity_verdict,
    trend_test,
    verdict_phrase,
)
from analysis.stationarity.frames import prepare_tidy
from analysis.stationarity.summary import near_stationary, summarize
from analysis.stationarity.trend import direction_verdict, even_subsample
from landscape.errors import LandscapeError
from landscape.stages import assign_stages

N = 5000
PLATEAU = 3000  # d_fake's loss is flat for this many iterations, then descends


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- trend tests


def test_decaying_norm_is_approaching_with_the_true_slope():
    rng = _rng(1)
    x = np.arange(N)
    log_norm = -x / 1000 + rng.normal(0, 0.3, N)  # true slope -1e-3 per iteration
    trend = trend_test(log_norm, x)
    assert trend.slope == pytest.approx(-1e-3, rel=0.03)
    assert trend.slope_low < -1e-3 < trend.slope_high
    assert trend.p_value < 1e-10 and trend.tau < -0.5
    assert trend.change == pytest.approx(trend.slope * (N - 1), rel=1e-9)
    assert stationarity_verdict(trend) == "approaching stationarity"


def test_flat_noise_has_no_significant_trend():
    rng = _rng(2)
    trend = trend_test(rng.normal(0, 1, N))
    assert trend.p_value > 0.05
    assert abs(trend.tau) < 0.03
    assert trend.slope_low < 0 < trend.slope_high
    assert stationarity_verdict(trend) == "no significant trend"
    assert direction_verdict(trend) == "no significant trend"


def test_rising_norm_is_moving_away_with_the_true_slope():
    rng = _rng(3)
    x = np.arange(N) * 2.0  # steps need not be 0..n-1: slopes are per step
    trend = trend_test(x / 4000 + rng.normal(0, 0.3, N), x)
    assert trend.slope == pytest.approx(2.5e-4, rel=0.05)
    assert stationarity_verdict(trend) == "moving away"
    assert direction_verdict(trend) == "rising"


def test_theil_sen_ignores_spikes():
    rng = _rng(4)
    x = np.arange(2000)
    y = -x / 500 + rng.normal(0, 0.1, 2000)
    y[::97] += 50.0  # a GAN-style loss spike every 97 iterations
    assert trend_test(y, x).slope == pytest.approx(-1 / 500, rel=0.02)


def test_matches_scipy_on_short_series():
    rng = _rng(5)
    y = rng.normal(size=300).cumsum()
    trend = trend_test(y)
    tau, p = stats.kendalltau(np.arange(300), y)
    slope, _, low, high = stats.theilslopes(y, np.arange(300))
    assert (trend.tau, trend.p_value, trend.slope, trend.slope_low, trend.slope_high) == pytest.approx(
        (tau, p, slope, low, high)
    )
    assert trend.points_used == trend.iterations == 300


def test_min_change_gates_a_significant_but_negligible_drift():
    rng = _rng(6)
    x = np.arange(N)
    log_norm = math.log(0.95) * x / (N - 1) + rng.normal(0, 0.01, N)  # significant, but only a 5% fall
    trend = trend_test(log_norm, x)
    assert trend.p_value < 1e-6
    assert math.expm1(trend.change) == pytest.approx(-0.05, abs=0.01)
    # significant (p < 0.05) but below the 10% effect size: said as it is, not as "no significant trend"
    assert stationarity_verdict(trend, min_change=0.1) == "significant but small"
    assert verdict_phrase("significant but small", -0.0493) == "significant but small (-4.9%)"
    assert stationarity_verdict(trend, min_change=0.01) == "approaching stationarity"
    drift = trend_test(rng.normal(0, 1, 300), np.arange(300))  # pure noise: p >= 0.05
    assert drift.p_value >= 0.05 and stationarity_verdict(drift) == "no significant trend"


def test_a_small_significant_trend_is_named_in_the_headline():
    x = np.arange(N)
    grad = {"g": np.exp(math.log(1.067) * x / (N - 1) + _rng(16).normal(0, 0.05, N))}  # +6.7%, significant
    loss = {"g": 1 + _rng(17).normal(0, 0.1, N)}
    report = stationarity_report(_tidy(grad, loss, stages=1))
    headline = report.verdicts["headline"].iloc[0]
    assert headline.startswith("g (generator): significant but small (+") and headline.endswith("%).")
    assert report.verdicts["verdict"].iloc[0] == "significant but small"


def test_too_short_and_constant_and_non_finite_series():
    assert stationarity_verdict(trend_test([1.0, 0.5, 0.2])) == "too few iterations"
    flat = trend_test(np.ones(50))
    assert (flat.slope, flat.p_value) == (0.0, 1.0)
    assert stationarity_verdict(flat) == "no significant trend"
    y = -np.arange(100.0)
    y[[3, 50]] = [np.nan, np.inf]
    trend = trend_test(y)
    assert trend.iterations == 98 and trend.slope == pytest.approx(-1.0)


def test_even_subsample_is_even_and_keeps_the_ends():
    idx = even_subsample(46_800, 1000)
    assert len(idx) == 1000 and idx[0] == 0 and idx[-1] == 46_799
    gaps = np.diff(idx)
    assert gaps.max() - gaps.min() <= 1
    assert np.array_equal(even_subsample(500, 1000), np.arange(500))


def test_long_series_are_subsampled_and_stay_fast():
    rng = _rng(7)
    x = np.arange(46_800)
    y = -x / 20_000 + rng.normal(0, 0.5, len(x))
    start = time.perf_counter()
    trend = trend_test(y, x, max_points=1000)
    assert time.perf_counter() - start < 5.0  # about 0.05 s unloaded
    assert trend.points_used == 1000 and trend.iterations == 46_800
    assert trend.slope == pytest.approx(-1 / 20_000, rel=0.1)


# --------------------------------------------------------------------------- stagnation


def test_noise_level_recovers_sigma_despite_a_trend():
    rng = _rng(8)
    noise = rng.normal(0, 0.5, 20_000)
    assert noise_level(noise) == pytest.approx(0.5, rel=0.03)
    assert noise_level(noise + np.linspace(0, 100, 20_000)) == pytest.approx(0.5, rel=0.03)


def test_stagnant_mask_is_exact_on_a_constructed_series():
    loss = np.array([0.0] * 50 + [10.0, 0.0] * 25)  # quiet for 50 iterations, then jumping
    mask = stagnant_mask(loss, window=10, threshold=1.0)
    assert mask[:50].all() and not mask[50:].any()
    assert not stagnant_mask(loss[:5], window=10, threshold=1.0).any()  # shorter than a window


def test_plateau_then_descent_finds_the_plateau_with_its_length():
    rng = _rng(9)
    loss = np.concatenate([np.full(PLATEAU, 2.0), np.linspace(2.0, 0.0, N - PLATEAU)]) + rng.normal(0, 0.01, N)
    found, used = stagnation_segments(loss, np.arange(N) + 100, window=100)
    assert used["noise"] == pytest.approx(0.01, rel=0.1)
    assert used["threshold"] == pytest.approx(1.5 * used["noise"])
    assert len(found) == 1
    stretch = found.iloc[0]
    assert stretch["start_step"] == 100  # steps are reported, not positions
    assert abs(stretch["iterations"] - PLATEAU) <= 100  # within one window of the true length
    assert stretch["loss_median"] == pytest.approx(2.0, abs=0.01)
    assert stretch["loss_drift"] < 0.01  # a true plateau: its windows' medians agree


def test_a_drift_too_slow_for_the_window_is_stagnant_but_shows_its_drift():
    rng = _rng(14)
    loss = np.linspace(0.0, 1.0, N) + rng.normal(0, 0.1, N)  # 0.004 per 20-iteration window, noise 0.1
    found, _ = stagnation_segments(loss, window=20)
    assert list(found["iterations"]) == [N]
    assert found["loss_drift"].iloc[0] == pytest.approx(1.0, abs=0.1)


def test_flat_noise_stagnates_throughout_and_a_steep_ramp_never():
    rng = _rng(10)
    found, _ = stagnation_segments(rng.normal(1, 0.1, 2000), window=50)
    assert list(found["iterations"]) == [2000]
    ramp, _ = stagnation_segments(np.linspace(0, 100, 2000) + rng.normal(0, 0.1, 2000), window=50)
    assert ramp.empty


def test_an_explicit_threshold_overrides_the_noise_rule():
    rng = _rng(11)
    loss = rng.normal(0, 1.0, 1000)
    assert stagnation_segments(loss, window=20, threshold=0.01)[0].empty
    assert list(stagnation_segments(loss, window=20, threshold=100.0)[0]["iterations"]) == [1000]


# --------------------------------------------------------------------------- tables


def _tidy(grad: dict[str, np.ndarray], loss: dict[str, np.ndarray], stages: int = 5) -> pd.DataFrame:
    n = len(next(iter(grad.values())))
    stage = assign_stages(n, stages)
    return pd.concat(
        [pd.DataFrame({"step": np.arange(n), "epoch": 0, "stage": stage, "network": net, "loss": loss[net],
                       "grad_norm": grad[net]}) for net in grad],
        ignore_index=True,
    )


def test_summary_matches_numpy_per_stage():
    rng = _rng(12)
    grad, loss = rng.lognormal(size=1000), rng.normal(size=1000)
    table = summarize(prepare_tidy(_tidy({"g": grad}, {"g": loss}, stages=4)))
    assert list(table["stage_label"]) == ["1: 0-249", "2: 250-499", "3: 500-749", "4: 750-999", "all"]
    row = table.iloc[1]
    part = grad[250:500]
    assert row["grad_norm_median"] == pytest.approx(np.median(part))
    assert (row["grad_norm_q1"], row["grad_norm_q3"]) == pytest.approx(tuple(np.quantile(part, [0.25, 0.75])))
    assert row["grad_norm_min"] == pytest.approx(part.min())
    assert row["grad_norm_min_step"] == 250 + int(np.argmin(part))
    whole = table.iloc[-1]
    assert pd.isna(whole["stage"]) and whole["iterations"] == 1000
    assert whole["loss_min_step"] == int(np.argmin(loss))


def test_near_stationary_counts_are_exact():
    grad = np.array([1, 2, 3, 4, 5, 0.5, 1.0, 1.4, 1.6, 9.0])  # stage 1 median 3
    table = near_stationary(prepare_tidy(_tidy({"d": grad}, {"d": np.zeros(10)}, stages=2)), absolute=1.5,
                            relative=0.5)
    stage1, stage2, whole = (table.iloc[i] for i in range(3))
    assert whole["relative_threshold"] == pytest.approx(1.5)  # 0.5 x median 3
    assert (stage1["below_absolute"], stage2["below_absolute"], whole["below_absolute"]) == (1, 3, 4)
    assert stage2["fraction_absolute"] == pytest.approx(0.6)
    assert (stage1["below_relative"], stage2["below_relative"]) == (1, 3)
    assert whole["fraction_relative"] == pytest.approx(0.4)


def _ground_truth_tidy() -> pd.DataFrame:
    """Four networks with known behaviour over 5,000 iterations (5 stages of 1,000)."""
    rng = _rng(13)
    x = np.arange(N)
    descent = np.clip(x - PLATEAU, 0, None)
    grad = {
        "g": np.exp(-x / 1000 + rng.normal(0, 0.3, N)),  # decaying to zero
        "d": np.exp(rng.normal(0, 0.3, N)),  # flat noise
        "d_real": np.exp(x / 2000 + rng.normal(0, 0.3, N)),  # rising
        "d_fake": np.exp(-descent / 400 + rng.normal(0, 0.3, N)),  # flat, then decaying with the loss
    }
    loss = {
        "g": 1 + rng.normal(0, 0.1, N),
        "d": 1.3 + rng.normal(0, 0.1, N),
        "d_real": 0.6 + rng.normal(0, 0.1, N),
        "d_fake": 2.0 - descent / 1000 + rng.normal(0, 0.01, N),  # plateau, then descent
    }
    return _tidy(grad, loss)


@pytest.fixture(scope="module")
def ground_truth_report():
    return stationarity_report(_ground_truth_tidy(), window=100, name="synthetic")


def test_report_gives_the_known_verdicts(ground_truth_report):
    verdicts = ground_truth_report.verdicts.set_index("network")["verdict"]
    assert verdicts.to_dict() == {
        "g": "approaching stationarity",
        "d": "no significant trend",
        "d_real": "moving away",
        "d_fake": "approaching stationarity",
    }
    trends = ground_truth_report.trends
    g_last = trends[(trends["network"] == "g") & (trends["stage"] == 5) & (trends["quantity"] == "log_grad_norm")]
    assert g_last["slope"].iloc[0] == pytest.approx(-1e-3, rel=0.1)
    fake = trends[(trends["network"] == "d_fake") & (trends["quantity"] == "log_grad_norm")].set_index("stage_label")
    assert fake.loc["1: 0-999", "verdict"] == "no significant trend"  # flat before the descent
    assert fake.loc["5: 4000-4999", "slope"] == pytest.approx(-1 / 400, rel=0.1)
    fake_loss = trends[(trends["network"] == "d_fake") & (trends["quantity"] == "loss") & (trends["stage"] == 5)]
    assert fake_loss["verdict"].iloc[0] == "falling"
    assert fake_loss["slope"].iloc[0] == pytest.approx(-1e-3, rel=0.05)


def test_report_finds_stagnation_on_the_plateau(ground_truth_report):
    stretches = ground_truth_report.stagnation
    fake = stretches[stretches["network"] == "d_fake"]
    assert len(fake) == 1
    assert fake["start_step"].iloc[0] == 0 and abs(fake["iterations"].iloc[0] - PLATEAU) <= 100
    assert fake["start_stage"].iloc[0] == 1 and fake["end_stage"].iloc[0] in (3, 4)  # plateau ends with stage 3
    summary = ground_truth_report.stagnation_summary
    row = summary[(summary["network"] == "d_fake") & (summary["stage"] == 5)].iloc[0]
    assert row["stagnant"] == 0 and row["stretches"] == 0
    row = summary[(summary["network"] == "d_fake") & (summary["stage"] == 2)].iloc[0]
    assert row["fraction"] == 1.0 and row["window"] == 100


def test_report_renders_verdicts_first_then_tables(ground_truth_report):
    text = ground_truth_report.to_text()
    assert text.index("VERDICTS") < text.index("g (generator): approaching stationarity.") < text.index(
        "GRADIENT NORM AND LOSS BY STAGE")
    assert "below 0.01" in text and "0.1 x stage-1 median" in text  # thresholds printed
    assert "d_real (discriminator, real part): moving away." in text
    markdown = ground_truth_report.to_markdown()
    assert markdown.startswith("# Stationarity report")
    assert "**g (generator): approaching stationarity.**" in markdown
    assert "| network | stage" in markdown
    assert "even subsample of at most 1,000" in text  # 5,000-iteration whole-run series were subsampled


def test_report_dict_is_json_with_every_table(ground_truth_report):
    content = json.loads(json.dumps(ground_truth_report.to_dict()))
    assert set(content) >= {"runs", "options", "notes", "verdicts", "summary", "near_stationary", "trends",
                            "stagnation", "stagnation_summary", "curvature"}
    assert content["options"]["absolute_threshold"] == 0.01
    assert len(content["trends"]) == 4 * 6 * 2  # networks x (5 stages + whole run) x (grad, loss)
    whole = [r for r in content["summary"] if r["stage_label"] == "all"]
    assert len(whole) == 4 and all(r["stage"] is None for r in whole)


def test_report_of_a_collection_frame_keeps_runs_apart():
    a, b = _ground_truth_tidy(), _ground_truth_tidy()
    a.insert(0, "run", "first")
    b["grad_norm"] = b.groupby("network")["grad_norm"].transform(lambda s: s.to_numpy()[::-1])  # g now rises
    b.insert(0, "run", "second")
    report = stationarity_report(pd.concat([a, b]), window=100, max_points=300)
    verdicts = report.verdicts.set_index(["run", "network"])["verdict"]
    assert verdicts[("first", "g")] == "approaching stationarity"
    assert verdicts[("second", "g")] == "moving away"
    assert "[second] g (generator): moving away." in report.to_text()


def test_empty_or_malformed_frames_are_user_errors():
    with pytest.raises(LandscapeError, match="no recorded iterations"):
        stationarity_report(_ground_truth_tidy().iloc[:0])
    with pytest.raises(LandscapeError, match="grad_norm"):
        stationarity_report(_ground_truth_tidy().drop(columns="grad_norm"))


def test_figure_has_a_log_panel_per_network_with_thresholds(ground_truth_report):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = stationarity_figure(ground_truth_report)
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["g (generator)", "d (discriminator)",
                                               "d_real (discriminator, real part)", "d_fake (discriminator, fake part)"]
    assert all(ax.get_yscale() == "log" for ax in axes)
    labels = axes[0].get_legend_handles_labels()[1]
    assert "absolute threshold 0.01" in labels and "relative threshold (0.1 x stage-1 median)" in labels
    assert sum(label.startswith("stage ") for label in labels) == 5
    plt.close(fig)


@pytest.mark.slow
def test_a_paper_length_run_reports_in_seconds():
    """46,800 iterations x 4 networks: 48 rank-tested series, each subsampled to 1,000 points."""
    rng = _rng(15)
    n = 46_800
    x = np.arange(n)
    grad = {net: np.exp(-x / 40_000 + rng.normal(0, 0.5, n)) for net in ("g", "d", "d_real", "d_fake")}
    loss = {net: rng.normal(1, 0.2, n) for net in grad}
    tidy = _tidy(grad, loss)
    start = time.perf_counter()
    report = stationarity_report(tidy)
    elapsed = time.perf_counter() - start
    assert set(report.verdicts["verdict"]) == {"approaching stationarity"}
    assert (report.trends["points_used"] <= 1000).all()
    assert elapsed < 30, f"{elapsed:.1f} s"  # about 5 s on 2 busy cores


def test_change_phrase_uses_a_factor_beyond_tenfold():
    from analysis.stationarity.verdicts import change_phrase

    assert change_phrase(-0.25) == "falls 25.0%"
    assert change_phrase(0.458) == "rises 45.8%"
    assert change_phrase(2.5e10) == "rises 2.5e+10-fold"
    assert change_phrase(float("nan")) == "does not change"


def test_a_wrong_input_is_one_sentence_not_a_type_error():
    with pytest.raises(LandscapeError, match="run file"):
        stationarity_report(42)
    with pytest.raises(LandscapeError, match="No runs"):
        stationarity_report([])
