"""The ``misclass`` command line. Each command module registers its commands on
:data:`misclass.cli.app.app` and is imported only when its command runs (or shows its help):
:data:`misclass.cli.registry.COMMANDS` names the module and the help line of every command,
so ``misclass --help`` lists them all without importing any.
"""

from __future__ import annotations

import sys

from rich.markup import escape

from misclass.cli.app import app, err_console
from misclass.cli.registry import COMMANDS
from misclass.errors import MisclassError


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; a :class:`MisclassError` prints one line and exits with status 2."""
    try:
        app(args=argv, prog_name="misclass")
    except MisclassError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except SystemExit:
        raise
    except OSError as exc:  # a filesystem failure outside the store's own checks
        where = f"{exc.filename}: " if exc.filename else ""
        err_console.print(f"[bold red]error:[/] {escape(where + (exc.strerror or str(exc)))}",
                          highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


__all__ = ["COMMANDS", "app", "main"]
