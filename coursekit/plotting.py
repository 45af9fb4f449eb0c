"""One look for every figure of the book."""

from __future__ import annotations

import matplotlib.pyplot as plt

STYLE = {
    "figure.figsize": (7.0, 4.0),
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "font.size": 10,
}


def use_course_style() -> None:
    """Apply the course's matplotlib settings (call once at the top of a chapter)."""
    plt.rcParams.update(STYLE)


def plot_mean_std(ax, x, runs, *, label=None, color=None, alpha: float = 0.2, **line_kwargs):
    r"""Mean over the seeds as a line, mean :math:`\pm` one standard deviation as a band.

    ``runs`` has one row per seed (as :func:`coursekit.training.over_seeds` returns it); the
    statistics are :func:`coursekit.training.mean_and_std`. Returns the line.
    """
    from coursekit.training import mean_and_std

    mean, std = mean_and_std(runs)
    (line,) = ax.plot(x, mean, label=label, color=color, **line_kwargs)
    ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=alpha, lw=0)
    return line
