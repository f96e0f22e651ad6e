"""The Typer app and the helpers every command shares. Commands live in sibling modules
(one per command or command group), listed in :mod:`misclass.cli.registry`, and load on use.

Only light modules are imported here (typer, rich and the store's layout names): the store
API, pandas and the analyses load inside the helpers, so ``misclass --help`` starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from misclass.cli.registry import LazyGroup
from misclass.store.layout import DEFAULT_STORE

if TYPE_CHECKING:
    from misclass.store import Store

app = typer.Typer(
    name="misclass",
    help="Find which images image classifiers get wrong, and why.\n\n"
    "Example: misclass demo && misclass models --store misclass-demo/store",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    cls=LazyGroup,
)



def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("misclass")
        except PackageNotFoundError:  # run from a source tree that is not installed
            number = "unknown (not installed)"
        console.print(f"misclass {number}", highlight=False)
        raise typer.Exit()


@app.callback()
def _group(
    version: Annotated[bool, typer.Option(
        "--version", help="Print the version of misclass and exit.", is_eager=True,
        callback=_print_version)] = False,
) -> None:
    # A callback keeps the app a group while no command module is imported yet (Typer builds
    # a lone command otherwise); the group's help is the app's ``help`` above.
    pass


console = Console()
err_console = Console(stderr=True)

StoreOpt = Annotated[
    Path, typer.Option("--store", "-s", help="Store folder.", show_default=True)
]
JsonOpt = Annotated[
    Path | None, typer.Option("--json", help="Also write the results as JSON to this file.")
]
LockTimeoutOpt = Annotated[
    float, typer.Option("--lock-timeout", help="Seconds to wait while another misclass command "
                        "writes to the store, before stopping with an error.", min=0)
]
DEFAULT_STORE_PATH = Path(DEFAULT_STORE)


def get_store(path: Path) -> Store:
    """Open an existing store (a clear error when there is none)."""
    from misclass.store import open_store

    return open_store(path)


def writable_store(path: Path, lock_timeout: float | None = None) -> Store:
    """A store handle for writing: it waits ``lock_timeout`` s (default
    :data:`misclass.store.lock.DEFAULT_LOCK_TIMEOUT`) for other writers, saying so."""
    from misclass.store import Store
    from misclass.store.lock import DEFAULT_LOCK_TIMEOUT

    if lock_timeout is None:
        lock_timeout = DEFAULT_LOCK_TIMEOUT
    return Store(path, lock_timeout=lock_timeout,
                 on_wait=lambda message: err_console.print(message, highlight=False, soft_wrap=True))


def _clean(obj: Any) -> Any:
    """JSON-ready values (see :func:`misclass.workflows.common.json_ready`)."""
    from misclass.workflows.common import json_ready

    return json_ready(obj)


def write_json(path: Path | None, obj: dict) -> None:
    """Write ``obj`` as JSON to ``path`` (atomically) when a path is given."""
    if path is None:
        return
    from misclass.store.files import write_json as write_json_file

    write_json_file(path, _clean(obj))
    console.print(f"Wrote {path}")


def print_table(table) -> None:
    """Print a rich ``Table`` so that no value is cut: cells wrap between words, or the table
    is printed one row per value when it is wider than the terminal (:mod:`misclass.cli.tables`)."""
    from misclass.cli.tables import fit_table

    console.print(fit_table(table, console))


def table_fits(table) -> bool:
    """Whether ``table`` fits the terminal without its long layout (see :func:`print_table`)."""
    from misclass.cli.tables import fits

    return fits(table, console)


def top5_note(frame) -> str | None:
    """The note under a table whose top-5 column shows "-" for predictors that stored fewer than
    five classes per image (``frame``: ``name``, ``top5``, ``accuracy`` columns); None if none."""
    from misclass.format import UNDEFINED, plural

    short = frame[frame["top5"].isna() & (frame["accuracy"] != "expected")]
    if not len(short):
        return None
    return f"top-5 {UNDEFINED}: {plural(len(short), 'predictor')} stored fewer than 5 classes per image"
