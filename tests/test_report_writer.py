"""The report's figure writer: figures written by worker processes are byte for byte the ones
written in this process, and so are drawings a worker builds; one draw per PNG gives the pixels
of savefig; a figure that does not pickle is written here, and so are those of a worker that
stopped; a figure a worker cannot write is an error naming it; a bad MISCLASS_REPORT_WORKERS is
one clear error."""

from __future__ import annotations

import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from misclass.errors import InputError  # noqa: E402
from misclass.report.writer import FigureWriter, default_workers  # noqa: E402


def _figure(title: str):
    fig, ax = plt.subplots(figsize=(4, 3), dpi=80, layout="constrained")
    x = np.linspace(0, 1, 200)
    ax.plot(x, x**2, label="x squared")
    ax.imshow(np.arange(12).reshape(3, 4), extent=(0, 1, 0, 1), alpha=0.3)
    ax.set(title=title, xlabel="x (unit)", ylabel="y (unit)")
    ax.legend()
    return fig


def test_workers_write_the_same_bytes_as_this_process(tmp_path):
    before = set(plt.get_fignums())  # figures other tests of this process left open
    with FigureWriter(workers=2) as writer:
        assert len(writer.workers) == 2
        for i in range(4):
            rel = writer.save(_figure(f"figure {i}"), tmp_path / "w", f"f{i}", formats=("png", "svg"))
            assert rel == f"w/f{i}"
    with FigureWriter(workers=0) as writer:
        assert writer.workers == []
        for i in range(4):
            writer.save(_figure(f"figure {i}"), tmp_path / "here", f"f{i}", formats=("png",))
    for i in range(4):
        assert (tmp_path / "w" / f"f{i}.png").read_bytes() == (tmp_path / "here" / f"f{i}.png").read_bytes()
        assert (tmp_path / "w" / f"f{i}.svg").read_text().count("<svg") == 1
    assert set(plt.get_fignums()) <= before  # every figure of this test closed


def test_a_figure_that_does_not_pickle_is_written_here(tmp_path):
    fig = _figure("with a lambda")
    fig.axes[0].xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.1f} u"))
    with FigureWriter(workers=1) as writer:
        writer.save(fig, tmp_path, "lambda")
    assert (tmp_path / "lambda.png").stat().st_size > 1000


def test_a_figure_a_worker_cannot_write_is_an_error_naming_it(tmp_path):
    writer = FigureWriter(workers=1)
    writer.save(_figure("bad format"), tmp_path / "figs", "bad", formats=("nosuchformat",))
    with pytest.raises(RuntimeError, match="'figs/bad' could not be written.*nosuchformat"):
        writer.close()


def test_workers_setting(monkeypatch):
    monkeypatch.setenv("MISCLASS_REPORT_WORKERS", "0")
    assert default_workers() == 0
    monkeypatch.setenv("MISCLASS_REPORT_WORKERS", "two")
    with pytest.raises(InputError, match="MISCLASS_REPORT_WORKERS='two'"):
        default_workers()
    monkeypatch.delenv("MISCLASS_REPORT_WORKERS")
    assert 1 <= default_workers() <= 4


def _drawn(title: str):
    """A module-level drawing function (a worker imports it by name)."""
    return _figure(title)


def test_drawings_built_by_workers_are_the_figures_built_here(tmp_path):
    from misclass.report.writer import Drawing

    with FigureWriter(workers=1) as writer:
        worker = writer.workers[0]
        rels = [writer.save(Drawing(_drawn, (f"drawing {i}",)), tmp_path / "w", f"d{i}") for i in range(6)]
        deadline = time.monotonic() + 120
        while not worker.answers and time.monotonic() < deadline:  # else close() may draw all six here
            time.sleep(0.05)
    assert worker.answers and set(worker.answers.values()) == {""}  # the worker drew some, without error
    from misclass.report.figures import write_figure

    for i, rel in enumerate(rels):
        fig = _figure(f"drawing {i}")
        write_figure(fig, [tmp_path / f"here{i}.png"])
        plt.close(fig)
        assert (tmp_path / "w" / f"d{i}.png").read_bytes() == (tmp_path / f"here{i}.png").read_bytes()
        assert writer.sizes[rel] == (320, 240)  # 4 x 3 inches at 80 dpi


def _pixels(path):
    from PIL import Image

    with Image.open(path) as image:
        return image.mode, image.info.get("dpi"), np.asarray(image.convert("RGBA"))


@pytest.mark.parametrize("facecolor", ["white", "none"])
def test_one_draw_gives_the_pixels_of_savefig(tmp_path, facecolor):
    """write_figure lays a constrained figure out once, draws it once and writes the pixels
    savefig writes: RGB when the figure is opaque, RGBA when it is not, at its resolution."""
    from misclass.report.figures import write_figure

    fig = _figure("laid out")
    fig.set_facecolor(facecolor)
    fig.savefig(tmp_path / "savefig.png")
    fig.savefig(tmp_path / "savefig.svg")
    plt.close(fig)
    fig = _figure("laid out")
    fig.set_facecolor(facecolor)
    assert write_figure(fig, [tmp_path / "once.png", tmp_path / "once.svg"]) == (320, 240)
    assert fig.get_layout_engine() is not None  # put back
    plt.close(fig)
    mode, dpi, once = _pixels(tmp_path / "once.png")
    _, saved_dpi, saved = _pixels(tmp_path / "savefig.png")
    assert mode == ("RGB" if facecolor == "white" else "RGBA")
    assert dpi == saved_dpi and once.shape == (240, 320, 4)
    assert np.array_equal(once, saved)
    assert (tmp_path / "once.svg").read_text().count("<svg") == 1


def test_figures_of_a_worker_that_stops_are_drawn_here(tmp_path):
    from misclass.report.writer import Drawing

    writer = FigureWriter(workers=1)
    writer.workers[0].proc.kill()
    for i in range(3):
        writer.save(Drawing(_drawn, (f"after the kill {i}",)), tmp_path, f"k{i}")
    writer.close()
    assert all((tmp_path / f"k{i}.png").stat().st_size > 1000 for i in range(3))
    assert len(writer.sizes) == 3


def _chatty(title: str):
    print("a library that prints while it draws")  # on the worker's stdout: not an answer
    return _figure(title)


def test_a_drawing_that_prints_does_not_break_the_answers(tmp_path):
    from misclass.report.writer import Drawing

    with FigureWriter(workers=1) as writer:
        worker = writer.workers[0]
        for i in range(3):
            writer.save(Drawing(_chatty, (f"chatty {i}",)), tmp_path, f"c{i}")
        deadline = time.monotonic() + 120
        while len(worker.answers) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert set(worker.answers) == {f"{tmp_path.name}/c{i}" for i in range(3)}
    assert set(worker.answers.values()) == {""} and not worker.undone
