"""The CLI starts fast: command modules load on use (``misclass.cli.registry``).

``benchmarks/cli_start.py`` times it; these tests check what makes it fast, which does not
depend on the machine: what ``--help`` imports, and that the registry matches the modules.
"""

from __future__ import annotations

import inspect
import json
import pkgutil
import subprocess
import sys

import typer

import misclass.cli
from misclass.cli.app import app
from misclass.cli.registry import COMMANDS, load_all

HEAVY = ("numpy", "pandas", "pyarrow", "scipy", "sklearn", "matplotlib", "torch")
NOT_COMMAND_MODULES = {"app", "registry", "tables"}


def _loaded_after(argv: list[str]) -> dict:
    """Run ``misclass *argv`` in a fresh interpreter; what it printed and imported."""
    code = (
        "import contextlib, io, json, sys\n"
        "from misclass.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    try:\n"
        f"        main({argv!r})\n"
        "    except SystemExit as e:\n"
        "        code = e.code\n"
        "json.dump({'code': code, 'out': out.getvalue(), 'modules': sorted(sys.modules)}, sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    return json.loads(proc.stderr.strip().splitlines()[-1])


def _command_modules(modules: list[str]) -> set[str]:
    return {m for m in modules if m.startswith("misclass.cli.")
            and m.rsplit(".", 1)[1] not in NOT_COMMAND_MODULES}


def _heavy(modules: list[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in HEAVY}


def test_help_lists_every_command_without_importing_any():
    got = _loaded_after(["--help"])
    assert got["code"] in (0, None)
    first_words = [line[2:].split(" ", 1)[0] for line in got["out"].splitlines() if line.startswith("│ ")]
    listed = [word for word in first_words if word in COMMANDS]  # continuation lines start with spaces
    assert listed == list(COMMANDS)
    assert _command_modules(got["modules"]) == set()
    assert _heavy(got["modules"]) == set()


def test_command_help_imports_only_its_module():
    got = _loaded_after(["models", "--help"])
    assert got["code"] in (0, None) and "Example: misclass models" in got["out"]
    assert _command_modules(got["modules"]) == {"misclass.cli.models"}
    assert _heavy(got["modules"]) == set()


def test_every_command_module_is_in_the_registry():
    modules = {f"misclass.cli.{m.name}" for m in pkgutil.iter_modules(misclass.cli.__path__)
               if m.name not in NOT_COMMAND_MODULES}
    assert {entry.module for entry in COMMANDS.values()} == modules


def _first_paragraph(text: str) -> str:
    return " ".join(inspect.cleandoc(text).split("\n\n")[0].split())


def test_registry_names_modules_and_help_lines_of_the_commands():
    built = load_all(typer.main.get_command(app))
    assert list(built) == list(COMMANDS)  # nothing registered that the registry does not list
    defined_in = {typer.main.get_command_name(info.name or info.callback.__name__):
                  {info.callback.__module__} for info in app.registered_commands}
    defined_in |= {info.name: {c.callback.__module__ for c in info.typer_instance.registered_commands}
                   for info in app.registered_groups}
    for name, command in built.items():
        assert defined_in[name] == {COMMANDS[name].module}, name
        assert _first_paragraph(command.help) == COMMANDS[name].help, name


def test_unknown_command_is_a_usage_error(capsys):
    from helpers import run_cli

    code, _, err = run_cli(["modles"], capsys)
    assert code == 2 and "models" in err  # the suggestion comes from the registry's names
