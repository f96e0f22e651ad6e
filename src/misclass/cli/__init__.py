"""The ``misclass`` command line. Every module in this package registers its commands on
:data:`misclass.cli.app.app`; they are imported here so ``misclass --help`` lists them.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

from rich.markup import escape

from misclass.cli.app import app, err_console
from misclass.errors import MisclassError

for _mod in pkgutil.iter_modules(__path__):
    if _mod.name != "app":
        importlib.import_module(f"{__name__}.{_mod.name}")


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


__all__ = ["app", "main"]
