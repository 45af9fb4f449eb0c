"""The multi-seed helpers of the experiments: ``over_seeds``, ``mean_and_std``, ``plot_mean_std``.

Expected statistics come from NumPy's own ``mean``/``std(ddof=1)`` on the same numbers.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from coursekit.plotting import plot_mean_std  # noqa: E402
from coursekit.training import mean_and_std, over_seeds  # noqa: E402


def noisy_curve(seed, length=5):
    return np.random.default_rng(seed).standard_normal(length).cumsum()


def test_over_seeds_stacks_one_row_per_seed_in_order():
    runs = over_seeds(noisy_curve, seeds=(3, 1, 4))
    assert runs.shape == (3, 5)
    for row, seed in zip(runs, (3, 1, 4)):
        np.testing.assert_array_equal(row, noisy_curve(seed))


def test_over_seeds_of_numbers_is_a_vector():
    runs = over_seeds(lambda s: float(noisy_curve(s)[-1]))
    assert runs.shape == (3,)
    np.testing.assert_array_equal(runs, [noisy_curve(s)[-1] for s in (0, 1, 2)])


def test_runs_that_stop_early_are_padded_with_nan():
    runs = over_seeds(lambda s: noisy_curve(s, length=2 + s))
    assert runs.shape == (3, 4)
    assert np.isnan(runs[0, 2:]).all() and np.isnan(runs[1, 3]) and not np.isnan(runs[2]).any()


def test_a_run_that_ignores_its_seed_is_refused():
    with pytest.raises(ValueError, match="same result"):
        over_seeds(lambda seed: noisy_curve(0))


def test_identical_runs_are_kept_when_the_caller_says_they_may_agree():
    runs = over_seeds(lambda seed: [0.1, 0.1], require_spread=False)
    np.testing.assert_array_equal(runs, np.full((3, 2), 0.1))
    runs = over_seeds(lambda seed: [], require_spread=False)
    assert runs.shape == (3, 0)


@pytest.mark.parametrize("seeds", [(0,), ()])
def test_a_spread_needs_two_seeds(seeds):
    with pytest.raises(ValueError, match="at least two"):
        over_seeds(noisy_curve, seeds=seeds)


def test_mean_and_std_are_numpys_mean_and_sample_std():
    runs = over_seeds(noisy_curve, seeds=range(4))
    mean, std = mean_and_std(runs)
    np.testing.assert_allclose(mean, runs.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(std, runs.std(axis=0, ddof=1), rtol=1e-12)
    # not the population standard deviation, which understates the spread of few seeds
    assert not np.allclose(std, runs.std(axis=0))


def test_mean_and_std_skip_runs_that_ended_early():
    runs = over_seeds(lambda s: noisy_curve(s, length=2 + s))
    mean, std = mean_and_std(runs)
    np.testing.assert_allclose(mean[:2], runs[:, :2].mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(mean[2], runs[1:, 2].mean(), rtol=1e-12)
    np.testing.assert_allclose(std[2], runs[1:, 2].std(ddof=1), rtol=1e-12)
    assert mean[3] == runs[2, 3] and np.isnan(std[3])


def test_plot_mean_std_draws_the_mean_and_a_band_of_one_std():
    runs = over_seeds(noisy_curve, seeds=range(3))
    x = np.arange(5)
    fig, ax = plt.subplots()
    line = plot_mean_std(ax, x, runs, label="runs", color="C3")
    np.testing.assert_allclose(line.get_ydata(), runs.mean(axis=0), rtol=1e-12)
    band = ax.collections[0].get_paths()[0].vertices
    low, high = runs.mean(0) - runs.std(0, ddof=1), runs.mean(0) + runs.std(0, ddof=1)
    for xi, lo, hi in zip(x, low, high):
        ys = band[np.isclose(band[:, 0], xi), 1]
        assert np.isclose(ys.min(), lo) and np.isclose(ys.max(), hi)
    assert line.get_label() == "runs"
    plt.close(fig)
