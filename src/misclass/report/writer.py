"""Writing the report's figures beside the sections that draw them.

Rendering a matplotlib figure to PNG (its layout, text and rasterising) costs about as much
as computing the whole report; :class:`FigureWriter` sends each figure, pickled, to worker
processes that write it while the next section computes. A pickled figure renders to the same
bytes as the figure itself. A figure that cannot be pickled, or a machine where no worker
process starts, is written in this process: the files are the same either way.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

WORKERS_VAR = "MISCLASS_REPORT_WORKERS"


def default_workers() -> int:
    """Worker processes for figures: one core fewer than the machine has (at least one, at
    most four; the section in this process keeps one core); ``MISCLASS_REPORT_WORKERS``
    overrides it (0: write every figure in this process)."""
    given = os.environ.get(WORKERS_VAR, "").strip()
    if given:
        try:
            return max(0, int(given))
        except ValueError:
            from misclass.errors import InputError

            raise InputError(f"{WORKERS_VAR}={given!r}: expected a whole number of worker processes "
                             "(0: write figures in this process)") from None
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def _write(data: bytes, paths: Sequence[str]) -> None:
    """In a worker: unpickle the figure and write it to each path (format from the suffix)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = pickle.loads(data)
    for path in paths:
        fig.savefig(path)
    plt.close(fig)


class FigureWriter:
    """Writes figures in worker processes; :meth:`close` waits for every one and raises the
    first error. Use as a context manager."""

    def __init__(self, workers: int | None = None):
        self.workers = default_workers() if workers is None else workers
        self._pool: ProcessPoolExecutor | None = None
        self._pending: list[tuple[str, Future]] = []
        if self.workers > 0:
            try:  # spawn: a fresh interpreter, nothing inherited from this one's threads
                spawn = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(self.workers, mp_context=spawn)
            except (OSError, RuntimeError):
                self._pool = None

    def save(self, fig, folder: Path, stem: str, *, formats: Sequence[str] = ("png",)) -> str:
        """Write ``fig`` as ``folder/<stem>.<format>`` for each format; return ``"<folder
        name>/<stem>"``. The figure is closed here; the files exist once :meth:`close` returns."""
        import matplotlib.pyplot as plt

        folder.mkdir(parents=True, exist_ok=True)
        paths = [str(folder / f"{stem}.{fmt}") for fmt in formats]
        data = None
        if self._pool is not None:
            try:
                data = pickle.dumps(fig)
            except (pickle.PicklingError, TypeError, AttributeError):
                data = None  # an artist that does not pickle: write it here
        if data is not None:
            try:
                self._pending.append((stem, self._pool.submit(_write, data, paths)))
            except RuntimeError:  # the pool is broken or shut: write it here
                data = None
        if data is None:
            for path in paths:
                fig.savefig(path)
        plt.close(fig)
        return f"{folder.name}/{stem}"

    def close(self) -> None:
        """Wait for every figure; raise the first error (naming the figure)."""
        pending, self._pending = self._pending, []
        try:
            for stem, future in pending:
                try:
                    future.result()
                except Exception as exc:
                    raise RuntimeError(f"report figure {stem!r} could not be written: {exc}") from exc
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None

    def __enter__(self) -> FigureWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        elif self._pool is not None:  # a section failed: its error is the one to see
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
