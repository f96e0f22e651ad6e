"""Pictures drawn straight from their numbers: boxes, lines and text on a pixel grid, written
as PNG (with PIL) or SVG (as text) from the same list of shapes.

The report's heatmaps, networks and per-class bars are boxes, arcs and labels; matplotlib
spends 0.3 to 0.6 s on each (its tick and layout machinery lays every label out again and
again), a picture a few milliseconds. A picture is sized to fit what it holds, measured with
the font matplotlib uses (DejaVu Sans), so no label is ever cut and the two kinds of figure
look alike; :class:`Axes` and :func:`frame` give a plot area its scales, ticks and outline.

Coordinates are pixels from the top left. A text is placed by its box: ``anchor`` is two
letters, ``l``/``m``/``r`` for the box's left, middle or right at ``x``, then ``t``/``m``/``b``
for its top, middle or bottom at ``y``; the box is the text's advance width by the font's
full height (ascent + descent) per line, so labels of one size line up whatever their
letters. A text turned a quarter left (``turned=True``, reading upwards) has its box turned
with it. Texts are drawn over every shape, in the order given.

Curves, polygons and discs (:meth:`Picture.polyline`, :meth:`Picture.polygon`,
:meth:`Picture.circle`) are smoothed: a picture that has any draws its shapes at twice the
size and halves the result (each pixel the mean of four), then writes its texts.

>>> p = Picture(120, 40)
>>> p.text(60, 20, "cat", size=14, anchor="mm")
>>> left, top, right, bottom = p.texts[0].box
>>> 40 < left < right < 80 and 8 < top < bottom < 32
True
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

FONT_FAMILY = "DejaVu Sans, Bitstream Vera Sans, Verdana, sans-serif"


@cache
def font(size: int, bold: bool = False):
    """DejaVu Sans (matplotlib's own font file) at ``size`` pixels."""
    import matplotlib
    from PIL import ImageFont

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)


def measure(text: str, size: int, bold: bool = False) -> tuple[int, int]:
    """(width, height) of ``text``'s box, unturned, in pixels."""
    f = font(size, bold)
    ascent, descent = f.getmetrics()
    return int(np.ceil(f.getlength(text))), ascent + descent


@dataclass(frozen=True)
class Text:
    """One text as drawn: ``box`` (left, top, right, bottom) in pixels; ``role`` says what it is
    ("title", "xlabel", "row", ...), for whoever reads the picture back; ``align`` places each
    line of a text of several ("l", "m" or "r")."""

    text: str
    box: tuple[int, int, int, int]
    size: int
    colour: str
    bold: bool
    turned: bool
    role: str
    align: str = "l"


_SMOOTHED = {"polyline", "polygon", "circle"}


@dataclass
class Picture:
    """A white ``width`` x ``height`` pixel canvas and the shapes drawn on it, in order;
    ``data`` holds the numbers drawn, for whoever reads the picture back."""

    width: int
    height: int
    dpi: float = 100.0
    shapes: list = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    data: dict = field(default_factory=dict)

    def cells(self, left: int, top: int, colours: np.ndarray, cell: int) -> None:
        """A grid of ``colours`` (rows, columns, 3) uint8, each a ``cell``-pixel square, its top
        left corner at (left, top)."""
        self.shapes.append(("cells", left, top, np.asarray(colours, dtype=np.uint8), int(cell)))

    def rect(self, left: int, top: int, right: int, bottom: int, *, fill: str | None = None,
             outline: str | None = None) -> None:
        """A box from (left, top) to (right, bottom) inclusive, filled and/or outlined (1 px)."""
        self.shapes.append(("rect", int(left), int(top), int(right), int(bottom), fill, outline))

    def line(self, x0: int, y0: int, x1: int, y1: int, *, colour: str = "black") -> None:
        """A 1-pixel line, horizontal or vertical."""
        self.shapes.append(("line", int(x0), int(y0), int(x1), int(y1), colour))

    def gradient(self, left: int, top: int, colours: np.ndarray, width: int) -> None:
        """A vertical strip ``width`` wide, one row per colour of ``colours`` (rows, 3)."""
        strip = np.repeat(np.asarray(colours, dtype=np.uint8)[:, None, :], width, axis=1)
        self.shapes.append(("cells", left, top, strip, 1))

    def polyline(self, points, *, width: float, colour: str) -> None:
        """A line ``width`` pixels wide through ``points`` [(x, y), ...], round at its joints."""
        self.shapes.append(("polyline", [(float(x), float(y)) for x, y in points], float(width), colour))

    def polygon(self, points, *, fill: str) -> None:
        """A filled polygon through ``points`` [(x, y), ...]."""
        self.shapes.append(("polygon", [(float(x), float(y)) for x, y in points], fill))

    def circle(self, x: float, y: float, radius: float, *, fill: str, outline: str | None = None,
               outline_width: float = 1.0) -> None:
        """A disc centred on (x, y), with an outline ``outline_width`` pixels wide."""
        self.shapes.append(("circle", float(x), float(y), float(radius), fill, outline, float(outline_width)))

    def text(self, x: float, y: float, text: str, *, size: int, anchor: str = "lt", colour: str = "black",
             bold: bool = False, turned: bool = False, role: str = "", align: str = "l") -> None:
        """``text`` (one box for all its lines, each line placed in it by ``align``) with its box
        at (x, y) by ``anchor`` (see the module's docstring)."""
        lines = text.split("\n")
        if turned and len(lines) > 1:
            raise ValueError("a turned text has one line")
        sizes = [measure(line, size, bold) for line in lines]
        w, h = max(s[0] for s in sizes), sum(s[1] for s in sizes)
        if turned:
            w, h = h, w
        left = x - {"l": 0, "m": w / 2, "r": w}[anchor[0]]
        top = y - {"t": 0, "m": h / 2, "b": h}[anchor[1]]
        left, top = int(round(left)), int(round(top))
        item = Text(text, (left, top, left + w, top + h), size, colour, bold, turned, role, align)
        self.texts.append(item)
        self.shapes.append(("text", item))

    def role(self, role: str) -> list[str]:
        """The texts of one role, in the order drawn."""
        return [t.text for t in self.texts if t.role == role]

    # -- output -------------------------------------------------------------------------------

    def write(self, paths) -> tuple[int, int]:
        """Write the picture to each path (PNG or SVG, from the suffix); return its size."""
        for path in paths:
            suffix = str(path).lower().rsplit(".", 1)[-1]
            if suffix == "png":
                self.png(path)
            elif suffix == "svg":
                Path(path).write_text(self.svg(), encoding="utf-8")
            else:
                raise ValueError(f"{path}: a picture is written as .png or .svg, not .{suffix}")
        return self.width, self.height

    def image(self):
        """The picture as a PIL RGB image."""
        from PIL import Image, ImageColor, ImageDraw

        scale = 2 if any(shape[0] in _SMOOTHED for shape in self.shapes) else 1
        img = Image.new("RGB", (self.width * scale, self.height * scale), "white")
        draw = ImageDraw.Draw(img)
        for shape in self.shapes:
            if shape[0] != "text":
                _draw_shape(img, draw, shape, scale)
        if scale > 1:
            img = img.reduce(scale)
            draw = ImageDraw.Draw(img)
        for shape in self.shapes:
            if shape[0] != "text":
                continue
            t = shape[1]
            f = font(t.size, t.bold)
            if not t.turned:
                top = t.box[1]
                for line in t.text.split("\n"):
                    w, h = measure(line, t.size, t.bold)
                    x = {"l": t.box[0], "m": (t.box[0] + t.box[2] - w) // 2, "r": t.box[2] - w}[t.align]
                    draw.text((x, top), line, font=f, fill=t.colour, anchor="la")
                    top += h
                continue
            w, h = t.box[3] - t.box[1], t.box[2] - t.box[0]  # unturned width and height
            mask = Image.new("L", (w, h), 0)
            ImageDraw.Draw(mask).text((0, 0), t.text, font=f, fill=255, anchor="la")
            turned = mask.transpose(Image.Transpose.ROTATE_90)
            img.paste(ImageColor.getrgb(t.colour), (t.box[0], t.box[1]), turned)
        return img

    def png(self, path) -> None:
        save_png(self.image(), path, self.dpi, software="misclass")

    def svg(self) -> str:
        """The picture as an SVG document (the same shapes; text set in DejaVu Sans, or the
        browser's sans-serif where that font is missing)."""
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
               f'viewBox="0 0 {self.width} {self.height}">',
               f'<rect width="{self.width}" height="{self.height}" fill="white"/>']
        for shape in self.shapes:
            kind = shape[0]
            if kind == "cells":
                _, left, top, colours, cell = shape
                for i, row in enumerate(colours):
                    for j, (r, g, b) in enumerate(row):
                        out.append(f'<rect x="{left + j * cell}" y="{top + i * cell}" width="{cell}" '
                                   f'height="{cell}" fill="#{r:02x}{g:02x}{b:02x}"/>')
            elif kind == "rect":
                _, left, top, right, bottom, fill, outline = shape
                stroke = f' stroke="{outline}" stroke-width="1"' if outline else ""
                out.append(f'<rect x="{left + 0.5 if outline else left}" y="{top + 0.5 if outline else top}" '
                           f'width="{right - left if outline else right - left + 1}" '
                           f'height="{bottom - top if outline else bottom - top + 1}" '
                           f'fill="{fill or "none"}"{stroke}/>')
            elif kind == "line":
                _, x0, y0, x1, y1, colour = shape
                out.append(f'<line x1="{x0 + 0.5}" y1="{y0 + 0.5}" x2="{x1 + 0.5}" y2="{y1 + 0.5}" '
                           f'stroke="{colour}" stroke-width="1"/>')
            elif kind == "polyline":
                _, points, width, colour = shape
                out.append(f'<polyline points="{_points(points)}" fill="none" stroke="{colour}" '
                           f'stroke-width="{width:.2f}" stroke-linejoin="round" stroke-linecap="butt"/>')
            elif kind == "polygon":
                _, points, fill = shape
                out.append(f'<polygon points="{_points(points)}" fill="{fill}"/>')
            elif kind == "circle":
                _, x, y, r, fill, outline, ow = shape
                stroke = f' stroke="{outline}" stroke-width="{ow:.2f}"' if outline else ""
                out.append(f'<circle cx="{x:.2f}" cy="{y:.2f}" r="{r:.2f}" fill="{fill}"{stroke}/>')
            else:
                t = shape[1]
                ascent = font(t.size, t.bold).getmetrics()[0]
                weight = ' font-weight="bold"' if t.bold else ""
                style = f'font-family="{FONT_FAMILY}" font-size="{t.size}" fill="{t.colour}"{weight}'
                if t.turned:  # baseline on the box's right, reading upwards from its bottom
                    x, y = t.box[0] + ascent, t.box[3]
                    out.append(f'<text x="{x}" y="{y}" transform="rotate(-90 {x} {y})" {style}>'
                               f'{html.escape(t.text)}</text>')
                    continue
                top = t.box[1]
                for line in t.text.split("\n"):
                    w, h = measure(line, t.size, t.bold)
                    x = {"l": t.box[0], "m": (t.box[0] + t.box[2] - w) // 2, "r": t.box[2] - w}[t.align]
                    out.append(f'<text x="{x}" y="{top + ascent}" {style}>{html.escape(line)}</text>')
                    top += h
        out.append("</svg>")
        return "\n".join(out)


def save_png(image, path, dpi: float, *, software: str) -> None:
    """A PIL image as the report's PNGs are written: zlib level 3 (half the time of level 6,
    files a few % larger), with its resolution and a software tag."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Software", software)
    image.save(path, format="png", compress_level=3, pnginfo=info, dpi=(dpi, dpi))


def _points(points) -> str:
    return " ".join(f"{x:.2f},{y:.2f}" for x, y in points)


def _draw_shape(img, draw, shape, scale: int) -> None:
    """One shape (not a text) on ``img``, drawn ``scale`` times the picture's size."""
    from PIL import Image

    kind = shape[0]
    if kind == "cells":
        _, left, top, colours, cell = shape
        block = np.repeat(np.repeat(colours, cell * scale, axis=0), cell * scale, axis=1)
        img.paste(Image.fromarray(np.ascontiguousarray(block), "RGB"), (left * scale, top * scale))
    elif kind == "rect":  # the pixels from left to right inclusive: at scale s, s of them each
        _, left, top, right, bottom, fill, outline = shape
        draw.rectangle((left * scale, top * scale, (right + 1) * scale - 1, (bottom + 1) * scale - 1),
                       fill=fill, outline=outline, width=scale)
    elif kind == "line":
        _, x0, y0, x1, y1, colour = shape
        draw.rectangle((min(x0, x1) * scale, min(y0, y1) * scale, (max(x0, x1) + 1) * scale - 1,
                        (max(y0, y1) + 1) * scale - 1), fill=colour)
    elif kind == "polyline":
        _, points, width, colour = shape
        draw.line([(x * scale, y * scale) for x, y in points], fill=colour,
                  width=max(1, round(width * scale)), joint="curve")
    elif kind == "polygon":
        _, points, fill = shape
        draw.polygon([(x * scale, y * scale) for x, y in points], fill=fill)
    else:
        _, x, y, r, fill, outline, ow = shape
        draw.ellipse(((x - r) * scale, (y - r) * scale, (x + r) * scale, (y + r) * scale), fill=fill,
                     outline=outline, width=max(1, round(ow * scale)) if outline else 0)


@dataclass(frozen=True)
class Axes:
    """A plot area of a picture: data (``xlim``, ``ylim``) to the pixels of ``box`` (left,
    top, right, bottom; y upwards in data, downwards in pixels)."""

    box: tuple[float, float, float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]

    def x(self, v):
        left, _, right, _ = self.box
        share = (np.asarray(v, dtype=float) - self.xlim[0]) / (self.xlim[1] - self.xlim[0])
        return left + share * (right - left)

    def y(self, v):
        _, top, _, bottom = self.box
        share = (np.asarray(v, dtype=float) - self.ylim[0]) / (self.ylim[1] - self.ylim[0])
        return bottom - share * (bottom - top)


def nice_ticks(lo: float, hi: float, n: int = 8) -> np.ndarray:
    """Round tick values within [lo, hi], about ``n`` of them (matplotlib's own choice)."""
    from matplotlib.ticker import MaxNLocator

    ticks = MaxNLocator(nbins=n, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
    return ticks[(ticks >= lo - 1e-9 * abs(hi - lo)) & (ticks <= hi + 1e-9 * abs(hi - lo))]


TICK, PAD = 4, 4  # pixels: tick length, gap between a tick and its label


def frame(p: Picture, ax: Axes, *, xticks=(), xlabels=(), yticks=(), ylabels=(), size: int = 12,
          grid: bool = False) -> None:
    """The plot area's outline, ticks outside it and their labels (``grid``: light lines across
    at the y ticks, under what is drawn next)."""
    left, top, right, bottom = (int(round(v)) for v in ax.box)
    for v, text in zip(yticks, ylabels, strict=True):
        y = int(round(float(ax.y(v))))
        if grid and top < y < bottom:
            p.line(left + 1, y, right - 1, y, colour="#e7e7e7")
        p.line(left - TICK, y, left - 1, y)
        p.text(left - TICK - PAD, y, text, size=size, anchor="rm", role="ytick")
    for v, text in zip(xticks, xlabels, strict=True):
        x = int(round(float(ax.x(v))))
        p.line(x, bottom + 1, x, bottom + TICK)
        p.text(x, bottom + TICK + PAD, text, size=size, anchor="mt", role="xtick")
    p.rect(left, top, right, bottom, outline="black")
