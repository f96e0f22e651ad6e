"""Help texts read as paragraphs and keep option names whole at 80 columns; ``--version``."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version

import pytest
import typer
from helpers import run_cli

from misclass.cli.app import app
from misclass.cli.registry import COMMANDS, load_all, paragraphs


def _help(args, capsys, monkeypatch, columns: int) -> str:
    monkeypatch.setenv("COLUMNS", str(columns))
    code, out, err = run_cli([*args, "--help"], capsys)
    assert code == 0, err
    return out


def test_version_prints_the_installed_version(capsys):
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and out.strip() == f"misclass {version('misclass')}"


def test_paragraphs_join_single_line_breaks():
    text = """First line
    goes on.

    Example: misclass x --a 1
    --b 2

    \b
    kept
    lines"""
    assert paragraphs(text) == "First line goes on.\n\nExample: misclass x --a 1 --b 2\n\n\b\nkept\nlines"


def test_help_is_written_as_paragraphs(capsys, monkeypatch):
    # the docstring breaks its example after "--group-a 3:5,5:3"; a wide terminal shows one line
    out = _help(["confusion"], capsys, monkeypatch, 200)
    assert "--group-a 3:5,5:3 --group-b 8:1 --graphml networks" in out


def _commands() -> list[list[str]]:
    built = load_all(typer.main.get_command(app))
    out = []
    for name, command in built.items():
        out.append([name])
        out += [[name, sub] for sub in getattr(command, "commands", {})]
    return out


@pytest.mark.parametrize("columns", [80])
def test_no_option_name_is_cut_at_80_columns(capsys, monkeypatch, columns):
    out = _help(["compare"], capsys, monkeypatch, columns)
    assert "--max-combinations" in out and "…" not in out
    for args in _commands():
        out = _help(args, capsys, monkeypatch, columns)
        assert "…" not in out, (args, [line for line in out.splitlines() if "…" in line])
    assert {a[0] for a in _commands()} == set(COMMANDS)


def test_option_names_whole_when_a_command_module_was_imported_first():
    """A command module imported before the CLI runs (a script, a notebook, another test) is
    built by Typer itself, not by the lazy group: its help keeps option names whole too."""
    code = ("import io, contextlib\n"
            "import misclass.cli.compare\n"
            "from misclass.cli import main\n"
            "buf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf):\n"
            "    try:\n"
            "        main(['compare', '--help'])\n"
            "    except SystemExit:\n"
            "        pass\n"
            "print(buf.getvalue())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "COLUMNS": "80"})
    assert out.returncode == 0, out.stderr
    assert "--max-combinations" in out.stdout and "…" not in out.stdout
