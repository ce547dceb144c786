"""Who a phone heard, 20 ms at a time: the data of the real demo's picture.

`classify` names what one frame of a phone's recording carried: a phone's own tone
(every sipp phone sends its own, `Phone.tone_hz`), anything else that is loud enough
to hear (the voice agent's speech, its hold music, the brief), silence, or nothing at
all (no RTP: the phone was not in a call). `bands` turns a recording into runs of one
kind, `Mark` is an instant worth a line across the picture (a stage of the transfer,
a message to the voice agent), `notes` names loud stretches by what was going on, and
`lanes` keeps the marks' labels from overlapping.
Nothing here draws (`warm_transfer.realstack.picture` does), so it runs and is tested
without matplotlib.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from warm_transfer.realstack.audio import Frame

OTHER: Final = "other"  # the voice agent, its hold music, the brief: loud, no phone's tone
SILENCE: Final = "silence"
NO_AUDIO: Final = "no audio"  # no RTP at all
# rms: a phone sends its tone at 0.3 of full scale (rms ~7000, and so it arrives); LiveKit's
# hold music has notes near some phones' tones (500 Hz) but plays them at rms < 1000.
TONE_LEVEL: Final = 2000.0
HEARD_LEVEL: Final = 30.0  # rms: hold music, its quiet passages included
TONE_SHARE: Final = 0.5  # of the frame's energy at the tone's frequency
FRAME_S: Final = 0.02


def classify(
    frame: Frame | None,
    tones: Mapping[str, float],
    tone_level: float = TONE_LEVEL,
    heard_level: float = HEARD_LEVEL,
) -> str:
    """What one 20 ms frame carried.

    Args:
        frame: the frame, or None where no RTP carried it.
        tones: name -> frequency of each phone's tone (``{"caller": 400, ...}``).
        tone_level: the rms above which a frame can be a phone's tone.
        heard_level: the rms above which a frame is heard at all.

    Returns:
        The name of the tone that has most of the frame's energy, `OTHER` for
        anything else audible, `SILENCE`, or `NO_AUDIO`.
    """
    if frame is None:
        return NO_AUDIO
    if frame.rms > tone_level:
        for name, hz in tones.items():
            if frame.tone_share(hz) > TONE_SHARE:
                return name
    return OTHER if frame.rms > heard_level else SILENCE


@dataclass(frozen=True)
class Band:
    """A run of frames of one kind, in seconds since the recording started."""

    start_s: float
    end_s: float
    kind: str


def bands(kinds: Sequence[str], min_s: float = 0.1, frame_s: float = FRAME_S) -> list[Band]:
    """Consecutive frames of one kind as bands; a run shorter than ``min_s`` is taken
    into the band before it (a quiet 20 ms inside music is still music).

    Args:
        kinds: each frame's `classify`, in order, ``frame_s`` apart from 0 s.
        min_s: the shortest band kept on its own.
        frame_s: a frame's length.
    """
    out: list[Band] = []
    start = 0
    for index in range(1, len(kinds) + 1):
        if index < len(kinds) and kinds[index] == kinds[start]:
            continue
        band = Band(start * frame_s, index * frame_s, kinds[start])
        if out and (out[-1].kind == band.kind or band.end_s - band.start_s < min_s):
            out[-1] = Band(out[-1].start_s, band.end_s, out[-1].kind)
        elif out and out[-1].end_s - out[-1].start_s < min_s:  # a short first band
            out[-1] = Band(out[-1].start_s, band.end_s, band.kind)
        else:
            out.append(band)
        start = index
    return out


def first_heard(
    kinds: Sequence[str], kind: str, after_s: float, frame_s: float = FRAME_S
) -> float | None:
    """When ``kind`` is first heard at or after ``after_s`` (s; None: never)."""
    first = max(0, math.ceil(after_s / frame_s - 1e-9))
    return next((i * frame_s for i in range(first, len(kinds)) if kinds[i] == kind), None)


@dataclass(frozen=True)
class Mark:
    """An instant drawn as a line across every phone's row.

    Attributes:
        at_s: seconds since the recordings started.
        label: what happened (``briefing``, ``hold_started``...).
        kind: ``stage`` (the workflow's) or ``agent`` (the voice agent's).
    """

    at_s: float
    label: str
    kind: Literal["stage", "agent"]


def lanes(marks: Sequence[Mark], char_s: float) -> list[int]:
    """A lane (0 = nearest the plot) per mark, so no two labels in a lane overlap.

    Args:
        marks: sorted by ``at_s``; each label starts at its mark.
        char_s: how many seconds of the x axis one character of a label takes.
    """
    ends: list[float] = []  # where the last label of each lane ends
    out: list[int] = []
    for mark in marks:
        lane = next((i for i, end in enumerate(ends) if end < mark.at_s), len(ends))
        if lane == len(ends):
            ends.append(0.0)
        ends[lane] = mark.at_s + (len(mark.label) + 1) * char_s
        out.append(lane)
    return out


def notes(
    found: Sequence[Band], marks: Sequence[Mark], names: Mapping[str, str], min_s: float = 0.8
) -> list[tuple[float, str]]:
    """``(start, text)`` naming each `OTHER` band of at least ``min_s`` by what was
    going on: the text of the last mark in ``names`` before the band's middle.

    The audio does not say whether loud audio is speech or music; the marks do (after
    ``hold_started`` the caller's phone gets the hold music, after ``briefing`` the
    human's gets the brief).
    """
    out: list[tuple[float, str]] = []
    for band in found:
        if band.kind != OTHER or band.end_s - band.start_s < min_s:
            continue
        middle = (band.start_s + band.end_s) / 2
        before = [m for m in marks if m.at_s <= middle and m.label in names]
        if before:
            out.append((band.start_s, names[max(before, key=lambda m: m.at_s).label]))
    return out


def level_db(frame: Frame | None) -> float:
    """A frame's level in dB below a full-scale 16-bit sine (NaN: no audio)."""
    if frame is None:
        return math.nan
    return 20 * math.log10(max(frame.rms, 1.0) / (32767 / math.sqrt(2)))
