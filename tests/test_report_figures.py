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
