"""Turns Temporal UI screenshots into one annotated picture for the operators' guide.

Each panel is a screenshot cropped to a region, with red boxes around what an
operator should look at and a numbered caption above it; panels are stacked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

RED = (220, 38, 38)
INK = (17, 24, 39)
PAPER = (255, 255, 255)
CAPTION_HEIGHT = 56
MARGIN = 16

Box = tuple[float, float, float, float]  # x, y, width, height in screenshot pixels


@dataclass
class Panel:
    """One screenshot, the part of it to keep, the boxes to draw and the caption."""

    screenshot: Path
    caption: str
    crop: Box
    highlights: list[Box] = field(default_factory=list)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype("DejaVuSans-Bold.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def _render(panel: Panel, number: int, width: int) -> Image.Image:
    shot = Image.open(panel.screenshot).convert("RGB")
    x, y, w, h = panel.crop
    left, top = max(0, int(x)), max(0, int(y))
    right, bottom = min(shot.width, int(x + w)), min(shot.height, int(y + h))
    cropped = shot.crop((left, top, right, bottom))
    draw = ImageDraw.Draw(cropped)
    for bx, by, bw, bh in panel.highlights:
        rect = (bx - left - 4, by - top - 4, bx - left + bw + 4, by - top + bh + 4)
        draw.rounded_rectangle(rect, radius=6, outline=RED, width=4)
    if cropped.width > width:
        ratio = width / cropped.width
        cropped = cropped.resize((width, int(cropped.height * ratio)), Image.Resampling.LANCZOS)
    out = Image.new("RGB", (width, CAPTION_HEIGHT + cropped.height), PAPER)
    caption = ImageDraw.Draw(out)
    caption.ellipse((MARGIN, 10, MARGIN + 36, 46), fill=RED)
    caption.text((MARGIN + 18, 28), str(number), fill=PAPER, font=_font(22), anchor="mm")
    caption.text((MARGIN + 50, 28), panel.caption, fill=INK, font=_font(22), anchor="lm")
    out.paste(cropped, (0, CAPTION_HEIGHT))
    return out


def compose(panels: list[Panel], out: Path, max_width: int = 1400) -> Path:
    """Renders the panels top to bottom into ``out`` (PNG) and returns it."""
    width = min(max_width, int(max(panel.crop[2] for panel in panels)))
    rendered = [_render(panel, i, width) for i, panel in enumerate(panels, start=1)]
    height = sum(image.height for image in rendered) + MARGIN * (len(rendered) - 1)
    sheet = Image.new("RGB", (width, height), (229, 231, 235))
    top = 0
    for image in rendered:
        sheet.paste(image, (0, top))
        top += image.height + MARGIN
    out.parent.mkdir(parents=True, exist_ok=True)
    # Screenshots of a UI have few colours: a palette image is a third of the size.
    palette = sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    palette.save(out, optimize=True)
    return out


def union(*boxes: Box, pad: float = 0) -> Box:
    """The smallest box around ``boxes``, grown by ``pad`` on every side."""
    left = min(b[0] for b in boxes) - pad
    top = min(b[1] for b in boxes) - pad
    right = max(b[0] + b[2] for b in boxes) + pad
    bottom = max(b[1] + b[3] for b in boxes) + pad
    return left, top, right - left, bottom - top
