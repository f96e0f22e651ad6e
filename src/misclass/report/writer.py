"""Writing the report's figures beside the sections that draw them.

Rendering a matplotlib figure to PNG (its layout, text and rasterising) costs about as much
as computing the whole report; :class:`FigureWriter` sends each figure, pickled, to worker
processes (``python -m misclass.report.writer``) that write it while the next section
computes. A pickled figure renders to the same bytes as the figure itself. A figure that
cannot be pickled, a worker that does not start or stops, or ``MISCLASS_REPORT_WORKERS=0``:
the figure is written in this process, to the same files.

The workers are plain subprocesses, not :mod:`multiprocessing`: nothing of the caller's
script is imported again in them, and nothing is forked from a process with threads.
"""

from __future__ import annotations

import os
import pickle
import queue
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

WORKERS_VAR = "MISCLASS_REPORT_WORKERS"
_HEADER = struct.Struct("<Q")  # the length of each pickled job on a worker's stdin


def default_workers() -> int:
    """Worker processes for figures: one core fewer than the machine has (at least one, at
    most four; the sections keep one core); ``MISCLASS_REPORT_WORKERS`` overrides it (0: write
    every figure in this process)."""
    given = os.environ.get(WORKERS_VAR, "").strip()
    if given:
        try:
            return max(0, int(given))
        except ValueError:
            from misclass.errors import InputError

            raise InputError(f"{WORKERS_VAR}={given!r}: expected a whole number of worker processes "
                             "(0: write figures in this process)") from None
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def _render(data: bytes, paths: Sequence[str]) -> None:
    """Unpickle a figure and write it to each path (the format from the suffix)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = pickle.loads(data)
    try:
        for path in paths:
            fig.savefig(path)
    finally:
        plt.close(fig)


def _serve() -> None:
    """A worker: read jobs from stdin until it closes, write each figure, answer one line per
    job on stdout ("ok <stem>" or "error <stem> <message>")."""
    stdin, stdout = sys.stdin.buffer, sys.stdout
    while True:
        head = stdin.read(_HEADER.size)
        if len(head) < _HEADER.size:
            return
        stem, data, paths = pickle.loads(stdin.read(_HEADER.unpack(head)[0]))
        try:
            _render(data, paths)
            stdout.write(f"ok {stem}\n")
        except Exception as exc:  # said to the parent, which raises it naming the figure
            message = f"{type(exc).__name__}: {exc}".replace("\n", " ")
            stdout.write(f"error {stem} {message}\n")
        stdout.flush()


class _Worker:
    """One worker process and the thread that feeds it (writes to a pipe block while the
    worker draws; the sections must not wait for that)."""

    def __init__(self):
        import misclass

        here = str(Path(misclass.__file__).resolve().parents[1])  # where this misclass is imported from
        env = dict(os.environ, MPLBACKEND="Agg",
                   PYTHONPATH=os.pathsep.join([here, *filter(None, [os.environ.get("PYTHONPATH")])]))
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, "-m", "misclass.report.writer"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr, env=env)
        self.jobs: queue.Queue = queue.Queue()
        self.sent: list[tuple[str, bytes, list[str]]] = []
        self.unsent: list[tuple[str, bytes, list[str]]] = []
        self.pending = 0
        self.thread = threading.Thread(target=self._feed, daemon=True)
        self.thread.start()

    def _feed(self) -> None:
        while (job := self.jobs.get()) is not None:
            try:
                blob = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
                self.proc.stdin.write(_HEADER.pack(len(blob)) + blob)
                self.proc.stdin.flush()
                self.sent.append(job)
            except (BrokenPipeError, OSError, ValueError):  # the worker stopped: the rest is drawn here
                self.unsent.append(job)
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def finish(self) -> tuple[dict[str, str], list[tuple[str, bytes, list[str]]]]:
        """Close the worker; return its answers by figure and the jobs it did not do."""
        self.jobs.put(None)
        self.thread.join()
        answers = {}
        for line in self.proc.stdout.read().decode("utf-8", "replace").splitlines():
            status, _, rest = line.partition(" ")
            stem, _, message = rest.partition(" ")
            answers[stem] = "" if status == "ok" else message or "failed"
        self.proc.wait()
        self.stderr.close()
        undone = [job for job in self.sent if job[0] not in answers]
        return answers, self.unsent + undone


class FigureWriter:
    """Writes figures in worker processes; :meth:`close` waits for every one and raises the
    first error, naming the figure. Use as a context manager."""

    def __init__(self, workers: int | None = None):
        self.workers: list[_Worker] = []
        for _ in range(default_workers() if workers is None else workers):
            try:
                self.workers.append(_Worker())
            except OSError:  # no interpreter to start (an embedded Python): draw here
                break

    def save(self, fig, folder: Path, stem: str, *, formats: Sequence[str] = ("png",)) -> str:
        """Write ``fig`` as ``folder/<stem>.<format>`` for each format; return ``"<folder
        name>/<stem>"``. The figure is closed here; the files exist once :meth:`close` returns."""
        import matplotlib.pyplot as plt

        folder.mkdir(parents=True, exist_ok=True)
        paths = [str(folder / f"{stem}.{fmt}") for fmt in formats]
        data = None
        if self.workers:
            try:
                data = pickle.dumps(fig, protocol=pickle.HIGHEST_PROTOCOL)
            except (pickle.PicklingError, TypeError, AttributeError):
                data = None  # an artist that does not pickle: write it here
        if data is None:
            for path in paths:
                fig.savefig(path)
        else:
            worker = min(self.workers, key=lambda w: w.pending)
            worker.pending += len(data)
            worker.jobs.put((f"{folder.name}/{stem}", data, paths))
        plt.close(fig)
        return f"{folder.name}/{stem}"

    def close(self) -> None:
        """Wait for every figure; raise the first error (naming the figure)."""
        workers, self.workers = self.workers, []
        errors, undone = [], []
        for worker in workers:
            answers, left = worker.finish()
            errors += [f"report figure {stem!r} could not be written: {message}"
                       for stem, message in answers.items() if message]
            undone += left
        for _stem, data, paths in undone:  # a worker that stopped: draw its figures here
            _render(data, paths)
        if errors:
            raise RuntimeError(errors[0] + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))

    def __enter__(self) -> FigureWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:  # a section failed: its error is the one to see; stop the workers
            for worker in self.workers:
                worker.proc.kill()
                worker.jobs.put(None)
                worker.thread.join()
                worker.proc.wait()
                worker.stderr.close()
            self.workers = []


if __name__ == "__main__":
    _serve()
