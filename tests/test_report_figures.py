"""The report's figures on small hand-made cases: what each one draws, names and says about units
(issue 19: heatmaps, networks, failure curves, the group plot, the gallery)."""

import re

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


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def check_picture(p, stem: str) -> None:
    """What every picture must hold: a title; on a grid of cells (rows or columns named), both
    axis labels and a colour bar label with its unit; every text inside the picture and clear
    of every other text."""
    assert p.role("title"), f"{stem}: no title"
    if p.role("row") or p.role("column"):
        assert p.role("xlabel") and p.role("ylabel"), f"{stem}: an axis without a label"
        assert "%" in " ".join(p.role("colour label")), f"{stem}: the colour bar names no unit"
    for t in p.texts:
        left, top, right, bottom = t.box
        assert 0 <= left and 0 <= top and right <= p.width and bottom <= p.height, f"{stem}: {t.text!r} cut"
    for i, a in enumerate(p.texts):
        for b in p.texts[i + 1:]:
            assert not _overlaps(a.box, b.box), f"{stem}: {a.text!r} over {b.text!r}"


def test_heatmap_greys_rows_without_errors_and_names_every_class(tmp_path):
    from PIL import Image

    from misclass.report.confusion_figures import GREY, heatmap_figure

    p = heatmap_figure(_confusion(), np.array([0, 1, 2]), NAMES)
    data = p.data["v"]
    # v in %, by hand: cat -> dog 2 of 3 errors, cat -> long name 1 of 3; dog -> cat 1 of 1
    assert data[0, 1] == pytest.approx(200 / 3) and data[0, 2] == pytest.approx(100 / 3)
    assert data[1, 0] == pytest.approx(100)
    # the long-named class has no error: its whole row is undefined, drawn in the grey the title names
    assert np.isnan(data[2]).all() and not np.isnan(data[0, 1])
    assert "grey = the diagonal, or a class without errors" in " ".join(p.role("title"))
    # every row and column named in full (no "…"), the shown subset of a larger store included
    cols, rows = p.role("column"), p.role("row")
    assert cols == ["cat", "dog", LONG, "all other classes"]
    assert rows[0].startswith("cat (u 75%)") and rows[2].startswith(LONG)
    assert not any("…" in t for t in cols + rows)
    assert "3 most-confused of 4 classes" in p.role("title")[0]
    check_picture(p, "heatmap")
    # the PNG: each cell in its colour (Blues of v, grey where undefined), the gap column white
    assert p.write([tmp_path / "h.png", tmp_path / "h.svg"]) == (p.width, p.height)
    pixels = np.asarray(Image.open(tmp_path / "h.png").convert("RGB"))
    assert pixels.shape == (p.height, p.width, 3)
    _, left, top, _, cell = next(s for s in p.shapes if s[0] == "cells")

    def at(i, j):
        return tuple(int(c) for c in pixels[top + i * cell + cell // 4, left + j * cell + cell // 4])

    blues = matplotlib.colormaps["Blues"]
    assert at(0, 1) == tuple(int(c) for c in blues(data[0, 1] / 100, bytes=True)[:3])
    assert at(1, 0) == tuple(int(c) for c in blues(1.0, bytes=True)[:3])
    assert mcolors.to_hex(np.array(at(2, 0)) / 255) == GREY == mcolors.to_hex(np.array(at(0, 0)) / 255)
    assert at(0, 3) == (255, 255, 255)  # the gap before "all other classes"
    svg = (tmp_path / "h.svg").read_text()
    assert svg.startswith("<svg") and LONG in svg and svg.count("<rect") > 3 * 5


@pytest.mark.parametrize("n", [10, 30, 60])
def test_heatmap_of_many_long_names_cuts_and_overlaps_none(n):
    from misclass.analysis.confusion import model_confusion
    from misclass.report.confusion_figures import heatmap_figure

    rng = np.random.default_rng(n)
    labels = rng.integers(0, n + 5, 20 * n)
    top1 = np.where(rng.random(len(labels)) < 0.6, labels, rng.integers(0, n + 5, len(labels)))
    names = [f"class {i} " + "with a long name " * (i % 4) for i in range(n + 5)]
    p = heatmap_figure(model_confusion("m", labels, top1, n + 5, threshold=0.3), np.arange(n), names)
    check_picture(p, f"heatmap of {n}")
    assert len(p.role("column")) == n + 1 and len(p.role("row")) == n
    assert (len(p.role("value")) > 0) == (n <= 15)  # values written in the cells of small heatmaps


def _hub_confusion():
    """Classes 1..5 each send every error to class 0 (a hub, weighted in-degree 5); class 0 sends
    its errors to the long-named class 5; 6 images per class, 3 wrong: six edges of v = 1."""
    labels, top1 = [], []
    for c in range(6):
        labels += [c] * 6
        top1 += [c] * 3 + [0 if c else 5] * 3
    return model_confusion("m", np.array(labels), np.array(top1), 6, threshold=0.3)


def test_network_names_classes_in_full_beside_their_discs_and_has_a_key(tmp_path):
    from misclass.report.network_figures import network_figure

    names = ["hub", "b", "c", "d", "e", "black and gold garden spider of the long names"]
    p = network_figure(_hub_confusion(), names)
    texts = [t for t in p.texts if t.role == "name"]
    assert sorted(" ".join(t.text.split()) for t in texts) == sorted(names)  # wrapped, not cut
    assert all(t.size >= 9 * 100 / 72 for t in texts)  # 9 points at 100 dpi
    heads = p.data["heads"]
    assert len(heads) == 6
    for head in heads:  # no arrowhead in a name
        for t in texts:
            left, top, right, bottom = t.box
            assert not any(left <= x <= right and top <= y <= bottom for x, y in head), (head, t.text)
    # names sit over the edges: each on a white box drawn after every edge (and texts after shapes)
    kinds = [s[0] for s in p.shapes]
    edges = [i for i, k in enumerate(kinds[:kinds.index("circle")]) if k in ("polyline", "polygon")]
    boxes = [i for i, k in enumerate(kinds) if k == "rect"]
    assert len(edges) == 2 * 6 and len(boxes) == len(texts) and min(boxes) > max(edges)
    key = p.role("key")
    assert any(k.startswith("d = ") for k in key) and "v = 30%" in key and "v = 100%" in key
    said = " ".join(p.role("key title"))
    assert "weighted in-degree d" in said and "edge width: v(j|i)" in said
    assert "v(j|i) ≥ 30%" in " ".join(p.role("title"))
    check_picture(p, "network")
    # the PNG: smoothed (grey levels between the edge's colour and white), the same size
    from PIL import Image

    assert p.write([tmp_path / "n.png", tmp_path / "n.svg"]) == (p.width, p.height)
    with Image.open(tmp_path / "n.png") as image:
        assert image.size == (p.width, p.height)
        assert len(image.getcolors(1 << 20)) > 50
    svg = (tmp_path / "n.svg").read_text()
    assert svg.count("<polyline") == 6 + 3 and svg.count("<circle") == 6 + len(key) - 3


@pytest.fixture
def failure_store(tmp_path):
    """300 images of three classes; p0..p2 with full probabilities, t0..t2 top-1 only."""
    import pandas as pd

    from misclass.store import Store

    rng = np.random.default_rng(0)
    n = 300
    labels = rng.integers(0, 3, n)
    samples = pd.DataFrame({"sample_id": [f"s{i}" for i in range(n)], "label": labels})
    store = Store.create(tmp_path / "failure-store", samples=samples,
                         classes=pd.DataFrame({"name": ["cat", "dog", "frog"]}))
    for m in range(3):
        logits = rng.normal(size=(n, 3))
        logits[np.arange(n), labels] += 1.5
        p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        order = np.argsort(-p, axis=1)
        store.write_model(f"p{m}", order, np.take_along_axis(p, order, 1), probs=p.astype(np.float32))
        store.write_model(f"t{m}", order[:, :1])
    return store


def _inside(fig, artist) -> bool:
    fig.canvas.draw()
    box, page = artist.get_window_extent(fig.canvas.get_renderer()), fig.bbox
    return page.x0 - 1 <= box.x0 and box.x1 <= page.x1 + 1 and page.y0 - 1 <= box.y0 and box.y1 <= page.y1 + 1


def test_failure_figure_says_what_is_missing_and_keeps_legends_off_the_data(failure_store):
    from misclass.report.failure_figures import curves_figure
    from misclass.workflows.failure import failure

    res = failure(failure_store, models=["p0", "t0"], seed=0)
    fig = curves_figure("p0", res.analyses["p0"])
    risk, roc, rel = fig.axes
    for ax in (risk, roc, rel):
        assert ax.get_title() and "%" in ax.get_xlabel() and "%" in ax.get_ylabel()
        assert ax.get_legend() is None  # one legend, below the panels
        assert _inside(fig, ax.title)
    legend = fig.legends[0]
    texts = [t.get_text() for t in legend.get_texts()]
    assert len(texts) == 6 and all("AUROC" in t for t in texts)  # six scores: all in colour
    learned = res.analyses["p0"].learned.auroc
    assert f"learned (AUROC {learned:.3f})" in texts
    assert min(t.get_fontsize() for t in legend.get_texts()) >= 9
    assert len(rel.patches) > 0 and "ECE" in rel.get_title()

    top1 = res.analyses["t0"]
    fig = curves_figure("t0", top1)
    rel = fig.axes[2]
    said = " ".join(t.get_text() for t in rel.texts)
    assert "no probabilities" in " ".join(said.split()) and not rel.patches
    assert _inside(fig, rel.title) and all(_inside(fig, t) for t in rel.texts)
    n_err = int(top1.test_errors.sum())
    assert fig.get_suptitle().endswith(f"{n_err:,} error" + ("" if n_err == 1 else "s"))


def test_failure_figure_draws_many_scores_as_a_highlight():
    from types import SimpleNamespace

    from misclass.analysis.selective import DetectionMetrics
    from misclass.report.failure_figures import SHOWN_SCORES, _highlighted

    def metric(auroc):
        return DetectionMetrics(10, 2, auroc, None, None, 0.1, 0.0, {})

    names = [s for s in SHOWN_SCORES if s != "learned"]
    aurocs = dict(zip(names, np.linspace(0.6, 0.9, len(names)), strict=True))  # the last is the best
    a = SimpleNamespace(test_scores=dict.fromkeys([*names, "learned"]),
                        metrics={k: metric(v) for k, v in aurocs.items()}, learned=metric(0.95))
    coloured, grey = _highlighted(a)
    best_four = sorted((n for n in names if n != "msp"), key=aurocs.get)[::-1][:4]
    assert coloured[0] == "learned" and "msp" in coloured and len(coloured) == 6
    assert set(coloured) == {"learned", "msp", *best_four}
    assert set(grey) == set(names) - set(coloured) and len(grey) == len(names) + 1 - 6


def test_group_plot_dodges_groups_with_the_same_accuracy():
    import pandas as pd

    from misclass.report.label_figures import subset_dots

    matrix = pd.DataFrame({"m1": [0.8, 0.8, 0.5], "m2": [0.6, 0.7, 0.6]}, index=["objects", "dogs", "birds"])
    fig = subset_dots(matrix, "top-1 accuracy")
    ax = fig.axes[0]
    points = np.vstack([c.get_offsets() for c in ax.collections])
    # no two markers in the same place, though m1 has 80% on two groups and m2 60% on two
    assert len({(round(x, 6), round(y, 6)) for x, y in points}) == len(points) == 6
    assert sorted(points[:, 0].round(6).tolist()) == [50, 60, 60, 70, 80, 80]
    assert ax.get_title().startswith("Top-1 accuracy") and "%" in ax.get_xlabel()


@pytest.mark.parametrize("c", [8, 60])
def test_class_bars_keep_the_key_and_the_class_lists_off_the_bars(c, tmp_path):
    from types import SimpleNamespace

    import pandas as pd

    from misclass.report.crossmodel_figures import FEW_CLASSES, class_bars

    rng = np.random.default_rng(1)
    frame = lambda v: pd.DataFrame({"m": v})  # noqa: E731
    up, down = rng.integers(0, 30, c), rng.integers(0, 30, c)
    res = SimpleNamespace(class_names=[f"class {i}" for i in range(c)], corrected=lambda: frame(up),
                          got_corrected=lambda: frame(down), class_accuracy=lambda: frame(np.full(c, 0.5)))
    p = class_bars(res, "m")
    check_picture(p, "class bars")
    assert p.role("title") and p.role("xlabel") and "images" in p.role("ylabel")[0]
    assert len(p.role("key")) == 2
    order = p.data["order"]  # sorted by net corrections, most first
    assert np.all(np.diff((up - down)[order]) <= 0) and sorted(order) == list(range(c))
    plot = next(s for s in p.shapes if s[0] == "rect" and s[6] == "black")[1:5]  # the axes' outline
    if c <= FEW_CLASSES:  # every bar named under it
        assert p.role("xtick") == [f"class {i}" for i in order]
        assert not p.role("side")
    else:  # the extremes named beside the axes, off the bars
        side = next(t for t in p.texts if t.role == "side")
        assert "Most net corrections by m" in side.text and side.box[0] > plot[2]
        assert p.role("xtick")[0] == "0" and p.role("xtick")[-1] == "60"
    key_top = min(t.box[1] for t in p.texts if t.role == "key")
    assert key_top > plot[3]  # the key under the axes
    assert p.write([tmp_path / "bars.png", tmp_path / "bars.svg"]) == (p.width, p.height)


@pytest.fixture
def image_store(tmp_path):
    """Six PNG images of three classes (paths in the store); model a misses s1, s2, s3 and s5,
    model b misses s2 and s5."""
    import pandas as pd
    from PIL import Image

    from misclass.store import Store

    folder = tmp_path / "pics"
    folder.mkdir()
    paths = []
    for i in range(6):
        path = folder / f"s{i}.png"
        Image.fromarray(np.full((20, 30, 3), 40 * i, np.uint8)).save(path)
        paths.append(str(path))
    samples = pd.DataFrame({"sample_id": [f"s{i}" for i in range(6)], "label": [0, 0, 1, 1, 2, 2],
                            "path": paths})
    store = Store.create(tmp_path / "image-store", samples=samples,
                         classes=pd.DataFrame({"name": ["cat", "dog", "frog"]}))
    store.write_model("a", np.array([[0], [1], [0], [0], [2], [0]]))
    store.write_model("b", np.array([[0], [0], [2], [1], [2], [1]]))
    return store


def test_gallery_says_how_many_it_shows_names_each_sample_and_writes_only_those(image_store, tmp_path):
    import re

    from misclass.report.build import build_report

    out = tmp_path / "r"
    index = build_report(image_store, out, only=["misclassified"], options={"gallery_size": 2})
    page = index.read_text()
    assert "4 images are misclassified" in page
    assert "Showing 2 of 4 images (those missed by the most models first)." in page
    # s2 and s5 are missed by both models: they come first; each caption starts with its sample id
    assert re.findall(r"<figcaption><b>([^<]+)</b>", page) == ["s2", "s5"]
    # s2 (a dog): a says cat, b frog; the tie goes to the lower class id
    assert 'alt="s2: true: dog / predicted: cat (2 of 2 models)"' in page
    written = sorted(p.name for p in (out / "images").iterdir())
    assert written == ["2.png", "5.png"]
    assert all(f'src="images/{name}"' in page for name in written)
    assert 'loading="lazy"' in page and 'width="' in page


def test_report_tables_state_one_unit_per_column_and_no_python_none(small_store, tmp_path):
    import re

    from misclass.report.build import build_report

    index = build_report(small_store, tmp_path / "r", only=["summary", "confusion", "crossmodel",
                                                             "label-issues", "failure"])
    page = index.read_text()
    heads = re.findall(r"<th[^>]*>([^<]*)</th>", page)
    raw = {"class_index", "n_images", "virtual_accuracy", "best_model", "planted_auroc", "rank_change",
           "sample_id", "says_wrong", "got_corrected", "mean_accuracy", "top-1 %"}
    assert not raw & set(heads)
    assert "None" not in re.sub(r"<script.*?</script>", "", page, flags=re.S)  # no Python None in a cell
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", "", page, flags=re.S))
    assert not re.findall(r"(?<![\d.,])1 [a-z]+s\b", text)  # "1 errors": plural() says "1 error"
    # the summary in %, by hand: a gets 4 of 6 right, b 5 of 6
    assert "<th class=num>top-1 (%)</th>" in page
    assert re.search(r"<td>b</td><td class=num>6</td><td class=num>83\.33</td><td class=num>1</td>", page)
    assert re.search(r"<td>a</td><td class=num>6</td><td class=num>66\.67</td><td class=num>2</td>", page)
    # pairs in %: every image is right in a or b; a's mistakes (s1, s5) are right in b, b's (s2) in a
    assert "oracle accuracy (%)" in heads and "PCR of B over A (%)" in heads
    assert re.search(r"<td>a</td><td>b</td><td class=num>100\.000</td><td class=num>100\.000</td>"
                     r"<td class=num>100\.000</td>", page)
    # best combinations: one unit a column, the gain in points (b alone 83.33%, a and b 100%)
    assert "gain over the best single model (points)" in heads
    assert re.search(r"<td class=num>2</td><td>a, b</td><td class=num>100\.00</td><td class=num>16\.67</td>",
                     page)
    # b stored no probabilities: no mean-probability ensemble, a "-" with its reason, said once in the caption
    assert 'title="not computed for this set; the notes under the table say why">-</td>' in page
    assert "-: not computed for this set" in page
    assert "u, the % of the class" in page and "mean u (%)" in heads


def test_pcr_heatmap_key_explains_only_the_marks_it_shows():
    import pandas as pd

    from misclass.report.crossmodel_figures import pair_heatmap as heatmap

    both = pd.DataFrame([[np.nan, 0.5], [0.25, np.nan]], index=["a", "b"], columns=["a", "b"])
    fig = heatmap(both, title="t", colorbar="c (%)", diagonal="a model cannot correct itself",
                  undefined="the row model makes no mistakes")
    ax = fig.axes[0]
    marks = {t.get_text() for t in ax.texts}
    assert marks == {"–", "50.0", "25.0"}
    assert "–: a model cannot correct itself" in ax.get_xlabel() and "n/a" not in ax.get_xlabel()
    perfect = pd.DataFrame([[np.nan, np.nan], [0.25, np.nan]], index=["a", "b"], columns=["a", "b"])
    fig = heatmap(perfect, title="t", colorbar="c (%)", diagonal="a model cannot correct itself",
                  undefined="the row model makes no mistakes")
    ax = fig.axes[0]
    assert "n/a" in {t.get_text() for t in ax.texts}
    assert "n/a: the row model makes no mistakes" in ax.get_xlabel()
    plain = heatmap(pd.DataFrame([[0.9, 0.95], [0.95, 0.8]], index=["a", "b"], columns=["a", "b"]),
                    title="t", colorbar="c (%)")
    assert plain.axes[0].get_xlabel() == "corrector model B (column)"


def test_explain_tables_in_percent_with_the_reason_for_a_missing_rate():
    from misclass.format import Undefined
    from misclass.report.sections.explain import _accounting_table, _planted_table

    acc = {"saliency": {"n_misclassified": 4, "fixed": 3, "moved": 0, "unchanged": 1, "fix_rate": 0.75,
                        "n_correct": 8, "broken": 2, "break_rate": 0.25},
           "random": {"n_misclassified": 4, "fixed": 1, "moved": 1, "unchanged": 2, "fix_rate": 0.25,
                      "n_correct": 0, "broken": 0, "break_rate": None}}
    table = _accounting_table({"accounting": acc})
    assert table["fix rate (%)"].tolist() == [75.0, 25.0] and table["break rate (%)"][0] == 25.0
    assert isinstance(table["break rate (%)"][1], Undefined) and table["break rate (%)"][1].reason
    planted = {"planted_errors": 2, "other_errors": 0, "other_planted_image_errors": 1,
               "fix_rate": {"planted_errors": 0.5, "other_planted_image_errors": 1.0},
               "random_fix_rate": {"planted_errors": 0.0}, "saliency_mass_in_patch": {"planted_errors": 0.4}}
    table = _planted_table(planted)
    assert table["fix rate (%)"][0] == 50.0 and table["saliency mass in the patch (%)"][0] == 40.0
    assert isinstance(table["fix rate (%)"][1], Undefined)  # no other error: no rate


#: words that give a numeric axis its unit when it has no "%" or "(unit)": counts of things
COUNT_WORDS = re.compile(r"%|\(|\b(images?|models?|errors?|classes|pixels|epochs?|number)\b")


def _numeric(labels) -> bool:
    """Whether tick labels are a numeric scale: numbers that grow (or shrink) along the axis.
    Class names that happen to be digits ("9", "8", "4", ...) are categories."""
    texts = [t.get_text().replace("−", "-").replace(",", "") for t in labels if t.get_text()]
    try:
        values = [float(t) for t in texts]
    except ValueError:
        return False
    steps = np.diff(values)
    return len(values) >= 2 and bool((steps > 0).all() or (steps < 0).all())


def check_figure(fig, stem: str) -> None:
    """What every report figure must say: a title (the figure's or its axes'), and on every
    axes that plots data, both axis labels, with a unit for a numeric axis ("%", "(unit)" or
    what is counted). Colour bars need their label only; pictures (image axes without ticks)
    and drawings without axes (networks, text panels) need no axis labels. A figure drawn as a
    :class:`~misclass.report.picture.Picture` (the heatmaps) passes :func:`check_picture`."""
    from misclass.report.picture import Picture

    if isinstance(fig, Picture):
        check_picture(fig, stem)
        return
    fig.canvas.draw()
    sup = fig._suptitle.get_text() if fig._suptitle else ""
    assert sup or any(ax.get_title() for ax in fig.axes), f"{stem}: no title"
    for ax in fig.axes:
        if hasattr(ax, "_colorbar"):
            assert ax.get_ylabel() or ax.get_xlabel(), f"{stem}: a colour bar without a label"
            continue
        picture = bool(ax.images) and not ax.get_xticks().size and not ax.get_yticks().size
        data = ax.lines or ax.collections or ax.patches or ax.images
        if not ax.axison or picture or not data:
            continue
        for axis, label, ticks in (("x", ax.get_xlabel(), ax.get_xticklabels()),
                                   ("y", ax.get_ylabel(), ax.get_yticklabels())):
            assert label, f"{stem}: no {axis} label on {ax.get_title()!r}"
            if not ax.images and _numeric(ticks):  # a heatmap: categories (its colour bar has the unit)
                assert COUNT_WORDS.search(label), f"{stem}: {axis} label {label!r} names no unit"


def test_every_report_figure_has_a_title_axis_labels_and_units(small_store, failure_store, image_store,
                                                               tmp_path, monkeypatch):
    from misclass.report.build import build_report
    from misclass.report.registry import ReportContext
    from misclass.report.writer import Drawing

    checked = []
    save = ReportContext.save_figure

    def checking(self, fig, stem, *, alt):
        fig = fig() if isinstance(fig, Drawing) else fig  # what a figure worker would build
        check_figure(fig, stem)
        checked.append(stem)
        return save(self, fig, stem, alt=alt)

    monkeypatch.setattr(ReportContext, "save_figure", checking)
    groups = {"group_a": "cat:dog", "group_b": "frog:cat"}  # the score histograms too
    for i, (store, only, options) in enumerate(((small_store, None, groups), (failure_store, ["failure"], {}),
                                                (image_store, ["label-issues"], {}))):
        build_report(store, tmp_path / f"r{i}", only=only, options=options)
    kinds = {re.sub(r"-[^-]*$", "", s) for s in checked}
    assert {"accuracy", "confusion-heatmap", "confusion-network", "confusion-scores", "crossmodel",
            "crossmodel-classes", "failure", "label-issues"} <= kinds, kinds


def test_the_figure_check_catches_a_missing_title_label_or_unit():
    from misclass.report.figures import new_figure

    fig, ax = new_figure()  # bars over classes named by digits: categories, no unit needed
    ax.bar([0, 1, 2], [3, 1, 2])
    ax.set_xticks([0, 1, 2], ["9", "0", "4"])
    ax.set(title="t", xlabel="class", ylabel="images")
    check_figure(fig, "digits")

    fig, ax = new_figure()
    ax.plot([0, 1], [0, 50])
    with pytest.raises(AssertionError, match="no title"):
        check_figure(fig, "f")
    ax.set_title("t")
    with pytest.raises(AssertionError, match="no x label"):
        check_figure(fig, "f")
    ax.set_xlabel("coverage (%)")
    ax.set_ylabel("risk")
    with pytest.raises(AssertionError, match="names no unit"):
        check_figure(fig, "f")
    ax.set_ylabel("risk (%)")
    check_figure(fig, "f")


@pytest.mark.slow
def test_every_figure_of_the_imagenet_report_has_a_title_axis_labels_and_units(imagenet_timm_store, tmp_path,
                                                                              monkeypatch):
    """The seven shared timm models (top-1 only, 1,000 classes): every figure passes the check,
    the reliability panels say why they are empty, the heatmaps name the 30 classes they show."""
    from misclass.report.build import build_report
    from misclass.report.registry import ReportContext
    from misclass.report.writer import Drawing

    seen = {}
    save = ReportContext.save_figure

    def checking(self, fig, stem, *, alt):
        fig = fig() if isinstance(fig, Drawing) else fig  # what a figure worker would build
        check_figure(fig, stem)
        seen[stem] = fig
        return save(self, fig, stem, alt=alt)

    monkeypatch.setattr(ReportContext, "save_figure", checking)
    from misclass.store import Store

    build_report(Store(imagenet_timm_store), tmp_path / "r")
    assert {"factors-error-ratio", "labels-multilabel-vs-top1", "crossmodel-greedy"} <= set(seen)
    failure = [f for s, f in seen.items() if s.startswith("failure-")]
    assert len(failure) == 7
    for fig in failure:
        said = " ".join(" ".join(t.get_text() for t in fig.axes[2].texts).split())
        assert "no probabilities" in said and fig.axes[2].get_title() == "Reliability"
    names = seen["confusion-heatmap-convit_small"].role("column")
    assert len(names) == 31 and names[-1] == "all other classes" and not any("…" in n for n in names)


def test_explain_figures_pass_the_check_with_legends_off_the_bars():
    import pandas as pd

    from misclass.report.explain_figures import planted_figure, sweep_figure

    planted = {"planted_errors": 40, "other_errors": 25, "other_planted_image_errors": 3,
               "fix_rate": {"planted_errors": 0.8, "other_errors": 0.2, "other_planted_image_errors": 1 / 3},
               "random_fix_rate": {"planted_errors": 0.1, "other_errors": 0.12}}
    fig = planted_figure(planted, model="r56")
    check_figure(fig, "planted")
    ax = fig.axes[0]
    assert ax.get_legend() is None and len(fig.legends) == 1
    assert sorted(t.get_text() for t in ax.texts) == ["0%", "10%", "12%", "20%", "33%", "80%"]
    rows = [{"box": box, "top_percent": t, "erased_fraction": t / 100, "fixes": 3 * t, "random_fixes": t,
             "net_gain": 2 * t, "best": box == "8x8" and t == 10}
            for box in ("4x4", "8x8") for t in (1, 5, 10)]
    fig = sweep_figure(pd.DataFrame(rows), model="r56")
    check_figure(fig, "sweep")
    for ax in fig.axes:  # each legend below its panel, at a readable size
        legend = ax.get_legend()
        assert legend.get_bbox_to_anchor().y0 < ax.get_window_extent().y0
        assert min(t.get_fontsize() for t in legend.get_texts()) >= 8
