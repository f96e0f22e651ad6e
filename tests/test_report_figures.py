"""The report's figures on small hand-made cases: what each one draws, names and says about units
(issue 19: heatmaps, networks, failure curves, the group plot, the gallery)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from misclass.analysis.confusion import model_confusion  # noqa: E402

LONG = "Greater Swiss Mountain dog with a very long name"
NAMES = ["cat", "dog", LONG, "frog"]


def _confusion():
    """cat: 3 of 4 wrong (2 -> dog, 1 -> the long name); dog: 1 of 2 wrong (-> cat); the long
    name: no error; frog: no image."""
    labels = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    top1 = np.array([0, 1, 1, 2, 1, 0, 2, 2])
    return model_confusion("m", labels, top1, 4, threshold=0.3)


def test_heatmap_greys_rows_without_errors_and_names_every_class():
    from misclass.report.sections.confusion import GREY, heatmap_figure

    fig = heatmap_figure(_confusion(), np.array([0, 1, 2]), NAMES)
    ax = fig.axes[0]
    im = ax.images[0]
    data = im.get_array()
    # v in %, by hand: cat -> dog 2 of 3 errors, cat -> long name 1 of 3; dog -> cat 1 of 1
    assert data[0, 1] == pytest.approx(200 / 3) and data[0, 2] == pytest.approx(100 / 3)
    assert data[1, 0] == pytest.approx(100)
    # the long-named class has no error: its whole row is masked, drawn in the grey the title names
    assert np.ma.getmaskarray(data)[2].all() and not np.ma.getmaskarray(data)[0, 1]
    assert mcolors.to_hex(im.cmap.get_bad()) == GREY
    assert "grey = the diagonal, or a class without errors" in ax.get_title()
    # every row and column named in full (no "…"), the shown subset of a larger store included
    cols = [t.get_text() for t in ax.get_xticklabels()]
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert cols == ["cat", "dog", LONG, "all other classes"]
    assert rows[0].startswith("cat (u 75%)") and rows[2].startswith(LONG)
    assert not any("…" in t for t in cols + rows)
    assert "%" in fig.axes[1].get_ylabel()  # the colour bar's unit
    assert "3 most-confused of 4 classes" in ax.get_title()


def _hub_confusion():
    """Classes 1..5 each send every error to class 0 (a hub, weighted in-degree 5); class 0 sends
    its errors to the long-named class 5; 6 images per class, 3 wrong: six edges of v = 1."""
    labels, top1 = [], []
    for c in range(6):
        labels += [c] * 6
        top1 += [c] * 3 + [0 if c else 5] * 3
    return model_confusion("m", np.array(labels), np.array(top1), 6, threshold=0.3)


def test_network_names_classes_in_full_beside_their_discs_and_has_a_key():
    from matplotlib.patches import FancyArrowPatch

    from misclass.report.sections.confusion import network_figure

    names = ["hub", "b", "c", "d", "e", "black and gold garden spider of the long names"]
    fig = network_figure(_hub_confusion(), names)
    ax = fig.axes[0]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t for t in ax.texts if t.get_text()]
    assert sorted(" ".join(t.get_text().split()) for t in texts) == sorted(names)  # wrapped, not cut
    assert all(t.get_fontsize() >= 9 for t in texts)
    boxes = [t.get_window_extent(renderer).expanded(1.0, 1.0) for t in texts]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == 6
    for arrow in arrows:  # no arrowhead in a name: the head is the triangle before the closing vertex
        head = ax.transData.transform(arrow.get_path().vertices[-4:-1])
        for box in boxes:
            assert not any(box.contains(x, y) for x, y in head), arrow
    # names sit over the edges (an edge passing by runs under a name, never over it)
    assert min(t.get_zorder() for t in texts) > max(a.get_zorder() for a in arrows)
    legend = fig.legends[0]
    key = [t.get_text() for t in legend.get_texts()]
    assert any(k.startswith("d = ") for k in key) and "v = 30%" in key and "v = 100%" in key
    assert "weighted in-degree d" in legend.get_title().get_text()
    assert "edge width: v(j|i)" in legend.get_title().get_text()
    assert "v(j|i) ≥ 30%" in ax.get_title()
