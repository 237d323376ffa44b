"""course_utils.plotting: the response heatmap draws what it is given, in the order and
on the colour scale asked for, with or without its own colour bar."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402

from course_utils.plotting import plot_response_heatmap  # noqa: E402


@pytest.fixture
def mean():
    """3 cells x 5 time points (-0.2 .. 0.6 s); cell 11 responds most after 0 s."""
    rng = np.random.default_rng(0)
    values = rng.uniform(0.0, 0.05, (3, 5))
    values[1, 2:] += [0.3, 0.2, 0.1]
    values[2, 2:] += [0.1, 0.1, 0.1]
    return xr.DataArray(values, dims=("cell", "time"),
                        coords={"cell": [10, 11, 12], "time": [-0.2, 0.0, 0.2, 0.4, 0.6]})


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_sorted_strongest_on_top(mean):
    ax = plot_response_heatmap(mean)
    drawn = ax.images[0].get_array()
    after = mean.values[:, 1:].mean(axis=1)          # the time >= 0 columns, by hand
    np.testing.assert_array_equal(drawn, mean.values[np.argsort(-after)])
    assert ax.get_ylabel() == "cell (sorted)"


def test_unsorted_keeps_the_given_order(mean):
    ax = plot_response_heatmap(mean.isel(cell=[2, 0, 1]), sort=False)
    np.testing.assert_array_equal(ax.images[0].get_array(), mean.values[[2, 0, 1]])
    assert ax.get_ylabel() == "cell"


def test_colour_scale(mean):
    ax = plot_response_heatmap(mean, vmax=0.5)
    assert ax.images[0].get_clim() == (0, 0.5)
    ax = plot_response_heatmap(mean)                 # default: 99th percentile of |values|
    assert ax.images[0].get_clim() == pytest.approx((0, np.percentile(mean.values, 99)))


def test_colorbar_is_optional(mean):
    fig, axes = plt.subplots(1, 2)
    plot_response_heatmap(mean, ax=axes[0])
    assert len(fig.axes) == 3                        # two panels and one colour bar
    plot_response_heatmap(mean, ax=axes[1], colorbar=False)
    assert len(fig.axes) == 3                        # no second bar
    fig2, axes2 = plt.subplots(1, 3)
    for ax in axes2:
        plot_response_heatmap(mean, ax=ax, vmax=0.4, colorbar=False)
    assert len(fig2.axes) == 3
    fig2.colorbar(axes2[0].images[0], ax=axes2, label="mean dF/F")
    assert len(fig2.axes) == 4
