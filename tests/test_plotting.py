"""save_figure: PNG and SVG beside it, nothing clipped; legends placed off the data."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from matplotlib.image import imread

from robustlab.plotting import DPI, legend_below, legend_outside, new_figure, save_figure


def _long_title_figure() -> object:
    fig, ax = new_figure(width=2.0, height=2.0)
    ax.plot([0, 1], [0, 1], label="measured")
    fig.suptitle("a title much wider than the two-inch figure it belongs to, on purpose")
    return fig


def test_save_figure_writes_png_and_svg_without_clipping(tmp_path: Path) -> None:
    path = save_figure(_long_title_figure(), tmp_path / "figures" / "wide.png")  # type: ignore[arg-type]
    assert path == tmp_path / "figures" / "wide.png"
    width = imread(path).shape[1]
    assert width > 2.0 * DPI * 1.5  # the bounding box grew to hold the whole title
    root = ET.parse(tmp_path / "figures" / "wide.svg").getroot()
    assert root.tag.endswith("svg")
    assert sorted(p.name for p in path.parent.iterdir()) == ["wide.png", "wide.svg"]


def test_save_figure_png_only(tmp_path: Path) -> None:
    save_figure(_long_title_figure(), tmp_path / "a.png", vector=False)  # type: ignore[arg-type]
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


@pytest.mark.parametrize("place", ["outside", "below"])
def test_legends_do_not_overlap_the_axes(place: str) -> None:
    fig, ax = new_figure()
    ax.plot(range(10), range(10), label="a")
    ax.plot(range(10), range(10)[::-1], label="b")
    if place == "outside":
        legend_outside(ax)
        legend = ax.get_legend()
    else:
        handles, labels = ax.get_legend_handles_labels()
        legend_below(fig, handles, labels)
        legend = fig.legends[0]
    fig.draw_without_rendering()
    box = legend.get_window_extent()
    axes_box = ax.get_window_extent()
    assert not box.overlaps(axes_box)
