"""Figures the notebooks share. Every function draws on a given Matplotlib ``Axes``
(or makes one), labels its axes with units, and returns the Axes."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr


def _axes(ax):
    return ax if ax is not None else plt.subplots(figsize=(6, 4))[1]


def plot_mean_sem(stats: xr.Dataset, ax=None, label: str | None = None, color=None,
                  ylabel: str = "dF/F"):
    """A mean trace with a shaded ± s.e.m. band.

    ``stats``: Dataset with ``mean`` and ``sem`` over one ``time`` dimension (seconds
    from the event), as from :func:`course_utils.alignment.mean_sem`.
    """
    ax = _axes(ax)
    t = stats["time"].values
    mean, sem = stats["mean"].values, stats["sem"].values
    if mean.ndim != 1:
        raise ValueError(f"plot one trace at a time: mean has dims {stats['mean'].dims}")
    line, = ax.plot(t, mean, label=label, color=color)
    ax.fill_between(t, mean - sem, mean + sem, color=line.get_color(), alpha=0.25, lw=0)
    ax.axvline(0, color="0.5", lw=0.8, ls="--")
    ax.set_xlabel("time from event (s)")
    ax.set_ylabel(ylabel)
    return ax


def plot_response_heatmap(mean: xr.DataArray, ax=None, title: str | None = None,
                          label: str = "mean dF/F", sort: bool = True, vmax=None,
                          colorbar: bool = True):
    """Cells x time heatmap of mean responses (``mean`` dims ("cell", "time")).

    With ``sort``, cells are ordered by their mean in the window after 0 s, strongest
    on top. The colour scale runs from 0 to ``vmax`` (default: the 99th percentile of
    the absolute values). With ``colorbar=False`` no colour bar is drawn: panels that
    share one ``vmax`` can then share one bar, ``fig.colorbar(axes[0].images[0],
    ax=axes, label=...)``.
    """
    ax = _axes(ax)
    mean = mean.transpose("cell", "time")
    if sort:
        after = mean.sel(time=slice(0, None)).mean("time")
        mean = mean.isel(cell=np.argsort(-after.values))
    t = mean["time"].values
    step = np.median(np.diff(t)) if t.size > 1 else 1.0
    vmax = vmax if vmax is not None else float(np.nanpercentile(np.abs(mean.values), 99))
    im = ax.imshow(mean.values, aspect="auto", cmap="magma", vmin=0, vmax=vmax,
                   extent=(t[0] - step / 2, t[-1] + step / 2, mean.sizes["cell"], 0),
                   interpolation="nearest")
    ax.axvline(0, color="w", lw=0.8, ls="--")
    ax.set_xlabel("time from event (s)")
    ax.set_ylabel("cell (sorted)" if sort else "cell")
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label=label)
    return ax


def outline_rois(cells: pd.DataFrame, ax=None, color="tab:orange", lw: float = 0.8):
    """Draw the outline of every ROI in ``cells`` (a cell specimen table with a
    full-frame boolean ``roi_mask`` column)."""
    ax = _axes(ax)
    for mask in cells["roi_mask"]:
        ax.contour(np.asarray(mask, dtype=float), levels=[0.5], colors=[color],
                   linewidths=lw)
    return ax


def image_grid(images: pd.Series, ncols: int = 4, cmap: str = "gray", size: float = 3.0):
    """Show a Series of 2-D images (index = names) in a grid; returns the Figure."""
    if len(images) == 0:
        raise ValueError("no images to show")
    nrows = int(np.ceil(len(images) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * 0.7),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (name, image) in zip(axes.flat, images.items()):
        ax.imshow(np.asarray(image, dtype=float), cmap=cmap)
        ax.set_title(str(name))
    return fig
