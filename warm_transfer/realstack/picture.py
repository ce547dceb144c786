"""The real demo's picture: one timeline per phone of who was heard, stages marked.

Each phone gets a row: the x axis is seconds since the call was placed, the coloured
bands are what its recording carried 20 ms at a time (`warm_transfer.realstack.timeline`:
the caller's tone, the human's tone, the voice agent / hold music / brief, silence;
white where the phone got no RTP at all), the black trace its level in dB. Lines
across both rows mark the workflow's stages (solid) and the engine's messages to the
voice agent (dashed), labelled above the top row. matplotlib (Agg, no display) is
imported only here, when a picture is drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from warm_transfer.realstack.timeline import (
    FRAME_S,
    NO_AUDIO,
    OTHER,
    SILENCE,
    Band,
    Mark,
    lanes,
)

if TYPE_CHECKING:
    from matplotlib.artist import Artist

COLOURS: Final = {
    "caller": "#1f77b4",
    "human": "#ff7f0e",
    OTHER: "#9467bd",
    SILENCE: "#d9d9d9",
}
MARK_COLOURS: Final = {"stage": "#2b2b2b", "agent": "#7b2d8e"}
WIDTH_IN: Final = 13.0
FONT_PT: Final = 8.0


@dataclass(frozen=True)
class Row:
    """One phone's row: its title, its bands, its level per 20 ms frame (dB) and
    ``(seconds, text)`` notes written into it."""

    title: str
    bands: Sequence[Band]
    levels_db: Sequence[float]
    notes: Sequence[tuple[float, str]] = ()


def draw(path: Path, rows: Sequence[Row], marks: Sequence[Mark], names: Mapping[str, str]) -> Path:
    """Draws the rows and marks as a PNG at ``path``; returns ``path``.

    Args:
        rows: top to bottom.
        marks: sorted by time.
        names: the legend's text for each kind of band (``{"caller": "caller's tone
            (400 Hz)", ...}``); kinds without a colour are drawn grey.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    seconds = max((len(r.levels_db) * FRAME_S for r in rows), default=1.0)
    seconds = max([seconds, *(m.at_s + 1 for m in marks)])
    char_s = seconds / (WIDTH_IN * 72 / (FONT_PT * 0.62))
    lane_of = lanes(marks, char_s)
    top_in = 0.35 + 0.17 * (max(lane_of, default=0) + 1)
    height_in = top_in + 2.3 * len(rows) + 0.9
    fig, axes = plt.subplots(
        len(rows), 1, sharex=True, figsize=(WIDTH_IN, height_in), squeeze=False
    )
    fig.subplots_adjust(
        left=0.06, right=0.99, top=1 - top_in / height_in, bottom=0.9 / height_in, hspace=0.28
    )
    for ax, row in zip(axes[:, 0], rows, strict=True):
        for band in row.bands:
            if band.kind != NO_AUDIO:
                colour = COLOURS.get(band.kind, "#7f7f7f")
                ax.axvspan(band.start_s, band.end_s, color=colour, alpha=0.45, lw=0)
        for at_s, text in row.notes:
            ax.text(
                at_s + 0.05,
                -74,
                text,
                fontsize=FONT_PT,
                style="italic",
                color="#3d1a4d",
                bbox={"facecolor": "white", "alpha": 0.7, "lw": 0, "pad": 1},
            )
        times = [i * FRAME_S for i in range(len(row.levels_db))]
        ax.plot(times, row.levels_db, color="black", lw=0.5)
        ax.set_ylim(-80, 0)
        ax.set_xlim(0, seconds)
        ax.set_ylabel("level (dB)", fontsize=FONT_PT)
        ax.text(
            0.004,
            0.95,
            row.title,
            transform=ax.transAxes,
            va="top",
            fontsize=FONT_PT + 1,
            fontweight="bold",
            bbox={"facecolor": "white", "alpha": 0.8, "lw": 0},
        )
        ax.tick_params(labelsize=FONT_PT)
        for mark in marks:
            style = "-" if mark.kind == "stage" else "--"
            ax.axvline(mark.at_s, color=MARK_COLOURS[mark.kind], ls=style, lw=1.0)
    top = axes[0, 0]
    for mark, lane in zip(marks, lane_of, strict=True):
        top.annotate(
            mark.label,
            xy=(mark.at_s, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(1, 14 + 12 * lane),
            textcoords="offset points",
            fontsize=FONT_PT,
            color=MARK_COLOURS[mark.kind],
            annotation_clip=False,
        )
    axes[-1, 0].set_xlabel("seconds since the call was placed", fontsize=FONT_PT)
    legend: list[Artist] = [
        Patch(color=COLOURS.get(k, "#7f7f7f"), alpha=0.45, label=n) for k, n in names.items()
    ]
    legend.append(Patch(facecolor="white", edgecolor="#999999", label="no RTP (not in a call)"))
    legend.append(Line2D([], [], color="black", lw=0.5, label="level"))
    legend.append(Line2D([], [], color=MARK_COLOURS["stage"], label="workflow stage"))
    legend.append(
        Line2D([], [], color=MARK_COLOURS["agent"], ls="--", label="message to the voice agent")
    )
    fig.legend(
        handles=legend,
        loc="lower center",
        ncol=len(legend),
        fontsize=FONT_PT,
        frameon=False,
        bbox_to_anchor=(0.5, 0.0),
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
