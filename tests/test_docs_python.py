"""docs/python.md runs on the demo store, so the notebook guide cannot drift from the code."""

import doctest
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "python.md"


def test_python_guide_runs_on_the_demo_store(demo_dirs, tmp_path):
    store, _ = demo_dirs
    result = doctest.testfile(str(DOC), module_relative=False,
                              globs={"STORE": str(store), "OUT": str(tmp_path / "report")},
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10
    assert result.failed == 0
