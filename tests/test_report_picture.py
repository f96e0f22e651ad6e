"""Pictures (the report's heatmaps and networks): texts placed by their boxes and drawn over
every shape, crisp boxes and lines, smoothed curves and discs, the same shapes in PNG and SVG."""

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from misclass.report.picture import Picture, measure


def _pixels(p: Picture, tmp_path, name="p.png") -> np.ndarray:
    p.write([tmp_path / name])
    with Image.open(tmp_path / name) as image:
        assert image.size == (p.width, p.height) and image.mode == "RGB"
        return np.asarray(image)


def test_a_text_is_placed_by_its_box():
    w, h = measure("a label", 13)
    assert w > 0 and h == measure("Ag", 13)[1]  # one height for every text of a size
    p = Picture(200, 100)
    p.text(100, 50, "a label", size=13, anchor="mm")
    p.text(10, 90, "a label", size=13, anchor="lb", turned=True)
    p.text(190, 10, "two\nlines", size=13, anchor="rt", align="r")
    centred, turned, lines = p.texts
    left, top = 100 - round(w / 2), 50 - round(h / 2)
    assert centred.box == (left, top, left + w, top + h)
    assert turned.box == (10, 90 - w, 10 + h, 90)  # a quarter turn: its width is a height
    assert lines.box[2] == 190 and lines.box[3] - lines.box[1] == 2 * h
    with pytest.raises(ValueError, match="one line"):
        p.text(0, 0, "a\nb", size=13, turned=True)


def test_texts_are_drawn_over_every_shape(tmp_path):
    p = Picture(120, 40)
    p.text(60, 20, "over", size=16, anchor="mm", colour="white")
    p.rect(0, 0, 119, 39, fill="black")  # drawn after the text is given, still under it
    pixels = _pixels(p, tmp_path)
    left, top, right, bottom = p.texts[0].box
    assert (pixels[top:bottom, left:right] > 200).all(axis=2).any()  # white letters on black
    assert (pixels[:, :left - 1] == 0).all()


def test_boxes_and_lines_stay_crisp_beside_smoothed_discs(tmp_path):
    def boxes(p):
        p.rect(10, 10, 29, 19, fill="#2171b5", outline="black")
        p.line(40, 5, 40, 35)
        p.cells(50, 5, np.array([[[255, 0, 0], [0, 0, 255]]], dtype=np.uint8), 7)
        return p

    plain = _pixels(boxes(Picture(120, 40)), tmp_path, "plain.png")
    assert len(np.unique(plain.reshape(-1, 3), axis=0)) == 5  # white, black, blue, red, blue cells
    assert (plain[10, 10:30] == 0).all() and (plain[11:19, 11:29] == (0x21, 0x71, 0xb5)).all()
    assert (plain[5:36, 40] == 0).all() and (plain[5:12, 50:57] == (255, 0, 0)).all()
    smooth = boxes(Picture(120, 40))
    smooth.circle(100, 20, 12, fill="black")
    pixels = _pixels(smooth, tmp_path, "smooth.png")
    assert np.array_equal(pixels[:, :80], plain[:, :80])  # drawn twice as large and halved: the same
    disc = pixels[5:36, 85:116, 0]  # its rim: shades between white and black
    assert ((disc > 0) & (disc < 255)).sum() > 20


def test_svg_holds_the_same_shapes(tmp_path):
    p = Picture(100, 60)
    p.cells(0, 0, np.zeros((2, 3, 3), dtype=np.uint8), 5)
    p.rect(20, 20, 40, 30, outline="black")
    p.polyline([(0, 50), (50, 55), (99, 50)], width=2, colour="#2171b5")
    p.polygon([(60, 10), (70, 20), (60, 20)], fill="red")
    p.circle(80, 40, 6, fill="#ffcc00", outline="#555555")
    p.text(50, 0, "a & b", size=12, anchor="mt")
    p.text(5, 55, "up", size=12, anchor="lb", turned=True)
    p.write([tmp_path / "p.svg"])
    root = ET.parse(tmp_path / "p.svg").getroot()
    tags = [el.tag.split("}")[1] for el in root]
    assert tags.count("rect") == 1 + 6 + 1 and tags.count("polyline") == 1 and tags.count("polygon") == 1
    assert tags.count("circle") == 1 and tags.count("text") == 2
    texts = [el for el in root if el.tag.endswith("text")]
    assert texts[0].text == "a & b" and "rotate(-90" in texts[1].get("transform")
    with pytest.raises(ValueError, match=r"\.png or \.svg"):
        p.write([tmp_path / "p.jpg"])
