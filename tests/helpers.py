"""Helpers for tests: the shared real data and running the CLI in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from misclass.cli import main

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
IMAGENET_TIMM = SHARED_DATA / "imagenet-val-timm-top1"


def require_imagenet_timm() -> Path:
    """Skip the test when the shared ImageNet predictions are absent."""
    if not IMAGENET_TIMM.is_dir():
        pytest.skip(f"real ImageNet predictions not found at {IMAGENET_TIMM} (../shared/data)")
    return IMAGENET_TIMM


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Run ``misclass`` in-process; return (exit code, stdout, stderr)."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out = capsys.readouterr()
    return code, out.out, out.err


def cli_json(command: list, capsys, out) -> dict:
    """Run ``misclass COMMAND... --json OUT`` in-process (it must succeed); return the JSON it wrote."""
    import json

    code, _, err = run_cli([*command, "--json", out], capsys)
    assert code == 0, err
    return json.loads(Path(out).read_text())


def report_table_after(page: str, heading: str):
    """The first table after ``heading`` on a report page, as the page shows it (a DataFrame
    of cell texts, the header as columns): an HTML table, or a long table's JSON as the page's
    script pages it (counts with separators, floats with the table's decimals, "-" if missing)."""
    import html
    import json
    import re
    from html.parser import HTMLParser

    import pandas as pd

    rest = page[page.index(heading):]
    table, big = rest.find("<table"), rest.find('<div class="big-table">')
    if big >= 0 and (table < 0 or big < table):
        found = re.search(r'<script type="application/json">(.*?)</script>', rest[big:], re.S)
        spec = json.loads(found.group(1))
        digits, columns = spec["digits"], spec["columns"]

        def text(col, v):
            if v is None:
                return "-"
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return f"{v:.{digits}f}" if col["float"] else f"{v:,}"
            return v

        cells = [d if isinstance(d, list) else [None if c < 0 else d["keys"][c] for c in d["codes"]]
                 for d in spec["data"]]
        return pd.DataFrame({c["name"]: [text(c, v) for v in col]
                             for c, col in zip(columns, cells, strict=True)})

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.rows: list[list[str]] = []
            self.cell: list[str] | None = None

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                self.rows.append([])
            elif tag in ("td", "th"):
                self.cell = []

        def handle_endtag(self, tag):
            if tag in ("td", "th") and self.cell is not None:
                self.rows[-1].append(html.unescape("".join(self.cell)).strip())
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell.append(data)

    parser = Cells()
    parser.feed(rest[table:rest.index("</table>", table)])
    header, *rows = parser.rows
    return pd.DataFrame(rows, columns=header)
