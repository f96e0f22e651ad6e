"""misclass.report: the workflow writes the report ``misclass report`` writes and says which
sections it built; ``misclass.report`` and ``misclass.predict`` stay callable although they
are also subpackages."""

import html
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_cli

import misclass

OPTIONS = {"k": 2, "top_classes": 3, "threshold": 0.2, "group_a": "0:1", "group_b": "1:0",
           "labels": "real", "groups": ["imagenet", "metaclasses"], "shifted_store": "elsewhere",
           "factor_set": "multi", "seed": 4}


def _page(index) -> str:
    """The page without what differs between two runs: the time it was made."""
    return re.sub(r"made [^<]* by misclass", "made - by misclass", index.read_text())


def _files(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def probed_sections(monkeypatch):
    """The report's summary section and a probe that records what each section gets (the
    options, the models): the CLI and the workflow are compared on what reaches the sections,
    without drawing every section twice."""
    import misclass.report.build as build
    from misclass.report.registry import Section, sections

    seen = []

    def probe(ctx):
        seen.append({"options": dict(ctx.options), "models": list(ctx.predictions.models)})
        return Section("Probe", f"<p>{html.escape(repr(sorted(ctx.options.items())))}</p>")

    summary = dict(sections())["summary"]
    monkeypatch.setattr(build, "sections", lambda: [("summary", summary), ("probe", probe)])
    return seen


def test_report_workflow_writes_what_the_cli_writes(small_store, tmp_path, capsys, probed_sections):
    args = [f"--{k.replace('_', '-')}={v}" for k, v in OPTIONS.items() if k != "groups"]
    args += [a for g in OPTIONS["groups"] for a in ("--groups", g)]
    code, out, err = run_cli(["report", "--store", small_store.path, "--out", tmp_path / "cli", "-m", "b",
                              *args], capsys)
    assert code == 0, err
    result = misclass.report(small_store.path, out=tmp_path / "api", models=["b"], progress=False, **OPTIONS)
    cli, api = probed_sections
    assert api == cli and api["models"] == ["b"]
    assert {k: api["options"][k] for k in OPTIONS} == {**OPTIONS, "shifted_store": Path("elsewhere")}
    assert result.index == tmp_path / "api" / "index.html" and result.out == tmp_path / "api"
    assert str((tmp_path / "cli" / "index.html").resolve()) in out.replace("\n", "")
    assert _page(result.index) == _page(tmp_path / "cli" / "index.html")
    assert _files(tmp_path / "api") == _files(tmp_path / "cli")
    for rel in _files(tmp_path / "api"):
        if rel.endswith(".png"):
            assert (tmp_path / "api" / rel).read_bytes() == (tmp_path / "cli" / rel).read_bytes(), rel

    # what was built: the sections on the page, in order, and their figures
    assert result.sections == ("summary", "probe")
    page = result.index.read_text()
    assert re.findall(r'<section id="([^"]+)">', page) == list(result.to_frame().anchor)
    assert result.figures and all((result.out / f"{f}.png").is_file() for f in result.figures)
    assert not list(result.out.rglob("*.svg"))  # PNG only unless --svg
    got = json.loads(json.dumps(result.to_dict()))
    assert got["index"] == str(result.index) and got["options"]["shifted_store"] == "elsewhere"
    assert [s["name"] for s in got["sections"]] == ["summary", "probe"]


def test_report_sections_with_nothing_to_show_are_left_out(small_store, tmp_path):
    result = misclass.report(small_store, out=tmp_path / "r", only=["summary", "labels", "crossmodel"],
                             progress=False)
    frame = result.to_frame()
    assert list(frame.index) == ["summary", "crossmodel", "labels"]  # registry order
    assert frame.loc["labels", "status"] == "empty" and result.sections == ("summary", "crossmodel")
    page = result.index.read_text()
    assert re.findall(r'<section id="([^"]+)">', page) == list(frame.anchor.dropna())


def test_report_svg_on_request_and_lazy_sized_images(small_store, tmp_path, capsys):
    from PIL import Image

    code, _, err = run_cli(["report", "--store", small_store.path, "--out", tmp_path / "r", "--svg"], capsys)
    assert code == 0, err
    page = (tmp_path / "r" / "index.html").read_text()
    imgs = re.findall(r"<img [^>]*>", page)
    assert imgs
    for tag in imgs:
        src = re.search(r'src="([^"]+)"', tag).group(1)
        width, height = (int(re.search(f'{a}="([0-9]+)"', tag).group(1)) for a in ("width", "height"))
        assert 'loading="lazy"' in tag and re.search(r'alt="[^"]+"', tag), tag
        assert Image.open(tmp_path / "r" / src).size == (width, height), src  # the size the page reserves
        assert (tmp_path / "r" / src).with_suffix(".svg").stat().st_size > 1000  # --svg: beside each PNG
        assert f'href="{src[:-4]}.svg"' in page
    written = {str(p.relative_to(tmp_path / "r")) for p in (tmp_path / "r" / "figures").iterdir()}
    used = {m for m in re.findall(r'(?:src|href)="(figures/[^"]+)"', page)}
    assert written == used  # every file written is on the page


def test_report_options_models_and_only(small_store, tmp_path):
    result = misclass.report(small_store, out=tmp_path / "r", models="a", only=["summary"], progress=False)
    assert result.sections == ("summary",) and list(result.to_frame().index) == ["summary"]
    assert "1 models" in result.index.read_text()
    assert result.options["top_classes"] == 30 and result.options["groups"] is None


def test_workflows_named_like_subpackages_stay_callable():
    import misclass.engine.core
    import misclass.report.build

    assert callable(misclass.report) and callable(misclass.predict)
    assert misclass.report.build.__name__ == "misclass.report.build"  # its modules stay reachable
    assert misclass.engine.core.EngineOptions().k == 5
    assert "out" in inspect.signature(misclass.report).parameters
    assert "models" in inspect.signature(misclass.predict).parameters
    # in a fresh interpreter: the same object before and after a module of the subpackage loads
    code = ("import misclass\nr = misclass.report\nimport misclass.report.build\n"
            "assert misclass.report is r and callable(r), type(r)\n"
            "assert callable(misclass.train) and callable(misclass.predict)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_report_layout_grid():
    """Consecutive figures share a grid; from three on they are small multiples (eight open,
    the rest folded, all on the page); a lone figure and the small table after it are a pair."""
    from misclass.report.build import SHOWN_MULTIPLES, grid

    def fig(i, wide=False):
        return (f'<figure class="fig{" wide" if wide else ""}" style="max-width:600px">'
                f'<a href="figures/f{i}.png"><img src="figures/f{i}.png" alt="f{i}" width="600" height="400">'
                "</a></figure>")

    table = '<div class="table-wrap"><table class="sortable"><tr><td>1</td></tr></table></div>'
    two = grid(fig(0) + fig(1) + "<p>text</p>" + fig(2) + table)
    assert two.startswith(f'<div class="figs">{fig(0)}{fig(1)}</div><p>text</p>')
    assert two.endswith(f'<div class="pair">{fig(2)}{table}</div>')
    many = grid("".join(fig(i) for i in range(11)))
    assert re.findall(r'<figure class="fig"', many) and len(re.findall(r"<figure", many)) == 11
    open_part, folded = many.split("<details>")
    assert len(re.findall(r"<figure", open_part)) == SHOWN_MULTIPLES == 8
    assert "The other 3 figures" in folded and 'class="figs many"' in open_part
    wide = grid("".join(fig(i, wide=True) for i in range(3)))
    assert 'class="figs many wide-run"' in wide and "<details>" not in wide


def test_sections_are_built_first_the_slowest_to_draw_and_shown_in_page_order(small_store, tmp_path):
    """Every module of sections/ is in ORDER (else its section would never show); the report
    builds BUILD_FIRST first and shows the page in ORDER; a module is imported only once the
    report reaches it: the first figures go to the workers while the later sections'
    libraries load."""
    import pkgutil

    import misclass.report.sections as pkg
    from misclass.report.registry import page_names, sections

    assert set(pkg.ORDER) == {m.name for m in pkgutil.iter_modules(pkg.__path__)}
    page = ["summary", "confusion", "crossmodel", "labels", "label-issues", "shift", "factors", "failure",
            "explain", "misclassified"]
    assert page_names() == page
    built = ["summary", "confusion", "failure", "factors", "crossmodel", "labels", "label-issues", "shift",
             "explain", "misclassified"]
    assert [name for name, _ in sections()] == built
    result = misclass.report(small_store, out=tmp_path / "r", progress=False)
    html_ = (tmp_path / "r" / "index.html").read_text()
    shown = [n for n in page if n in result.sections]
    assert [n for n, _, _ in result.built.sections] == page and len(shown) >= 4
    anchors = [html_.index(f'id="{n}"') for n in shown if f'id="{n}"' in html_]
    assert anchors == sorted(anchors) and len(anchors) >= 4
    probe = ("import sys; from misclass.report.registry import sections; it = sections(); "
             "name, _ = next(it); print(name, sorted(m.rsplit('.', 1)[1] for m in sys.modules "
             "if m.startswith('misclass.report.sections.')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["summary", "['summary']"]
