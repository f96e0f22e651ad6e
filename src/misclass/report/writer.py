"""Writing the report's figures beside the sections that draw them.

Rendering a matplotlib figure to PNG (its layout, text and rasterising) costs about as much
as computing the whole report; :class:`FigureWriter` sends each figure to worker processes
(``python -m misclass.report.writer``) that write it while the next section computes. A
figure goes either built and pickled, or as a :class:`Drawing`: the function that builds it
and its (small) data, so that the worker builds it too and this process does neither the
building nor the pickling. Either renders to the same bytes as the figure written here. A
figure that cannot be pickled, a worker that does not start or stops, or
``MISCLASS_REPORT_WORKERS=0``: the figure is built and written in this process, to the same
files.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class Drawing:
    """A figure not built yet: ``draw(*args, **kwargs)`` returns it. ``draw`` is a module-level
    function (pickled by name) and its arguments plain data, so a worker can build it; keep
    the module light, as each worker imports it."""

    draw: Callable[..., Any]
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def __call__(self):
        return self.draw(*self.args, **self.kwargs)


def _figure(obj):
    return obj() if isinstance(obj, Drawing) else obj


def _render(data: bytes, paths: Sequence[str]) -> tuple[int, int]:
    """Unpickle a figure (or a :class:`Drawing`, and build it), write it to each path (the
    format from the suffix); return its size in pixels."""
    import matplotlib

    matplotlib.use("Agg")
    from misclass.report.figures import close, write_figure

    fig = _figure(pickle.loads(data))
    try:
        return write_figure(fig, paths)
    finally:
        close(fig)


def _serve() -> None:
    """A worker: read jobs from stdin until it closes, write each figure, answer one line per
    job on stdout ("ok <stem> <width> <height>" or "error <stem> <message>"). Whatever else
    would print to stdout (a library's warning) goes to stderr, off the answers."""
    stdin = sys.stdin.buffer
    stdout = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    import matplotlib  # loaded while the report's process loads its own libraries, not at the first figure

    matplotlib.use("Agg")
    import misclass.report.figures  # noqa: F401  (matplotlib.pyplot, PIL)
    while True:
        head = stdin.read(_HEADER.size)
        if len(head) < _HEADER.size:
            return
        stem, data, paths = pickle.loads(stdin.read(_HEADER.unpack(head)[0]))
        try:
            width, height = _render(data, paths)
            stdout.write(f"ok {stem} {width} {height}\n")
        except Exception as exc:  # said to the parent, which raises it naming the figure
            message = f"{type(exc).__name__}: {exc}".replace("\n", " ")
            stdout.write(f"error {stem} {message}\n")
        stdout.flush()


_Job = tuple  # (figure stem "<folder name>/<stem>", pickled figure or drawing, paths)


class _Worker:
    """One worker process and the thread that feeds it: the thread takes a job from the
    writer's shared queue, sends it, waits for the answer, and takes the next (one job at a
    time, so the jobs go to whoever is free: the other workers, or this process at the end)."""

    def __init__(self, jobs: queue.Queue):
        import misclass

        here = str(Path(misclass.__file__).resolve().parents[1])  # where this misclass is imported from
        env = dict(os.environ, MPLBACKEND="Agg",
                   PYTHONPATH=os.pathsep.join([here, *filter(None, [os.environ.get("PYTHONPATH")])]))
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, "-m", "misclass.report.writer"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr, env=env)
        self.jobs = jobs
        self.answers: dict[str, str] = {}  # figure -> "" (written) or the error message
        self.sizes: dict[str, tuple[int, int]] = {}
        self.undone: list[_Job] = []  # a job it took and could not do (it stopped): drawn here
        self.thread = threading.Thread(target=self._feed, daemon=True)
        self.thread.start()

    def _feed(self) -> None:
        while (job := self.jobs.get()) is not None:
            stem = job[0]
            try:
                blob = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
                self.proc.stdin.write(_HEADER.pack(len(blob)) + blob)
                self.proc.stdin.flush()
                line = self.proc.stdout.readline().decode("utf-8", "replace").rstrip("\n")
            except (BrokenPipeError, OSError, ValueError):
                line = ""
            status, _, rest = line.partition(" ")
            answered, _, message = rest.partition(" ")
            if status not in ("ok", "error") or answered != stem:  # it stopped: the rest is drawn elsewhere
                self.undone.append(job)
                break
            self.answers[stem] = "" if status == "ok" else message or "failed"
            if status == "ok":
                width, height = message.split()
                self.sizes[stem] = int(width), int(height)
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def finish(self) -> None:
        """Wait for its last job (the queue holds a stop for it) and for the process."""
        self.thread.join()
        self.proc.wait()
        self.stderr.close()

    def kill(self) -> None:
        self.proc.kill()
        self.jobs.put(None)
        self.thread.join()
        self.proc.wait()
        self.stderr.close()


class FigureWriter:
    """Writes figures in worker processes; :meth:`close` draws what is still queued here, waits
    for every worker and raises the first error, naming the figure; then :attr:`sizes` holds
    each figure's size in pixels. Use as a context manager."""

    def __init__(self, workers: int | None = None):
        self.jobs: queue.Queue = queue.Queue()
        self.workers: list[_Worker] = []
        self.sizes: dict[str, tuple[int, int]] = {}  # "<folder name>/<stem>": (width, height)
        for _ in range(default_workers() if workers is None else workers):
            try:
                self.workers.append(_Worker(self.jobs))
            except OSError:  # no interpreter to start (an embedded Python): draw here
                break

    def save(self, fig, folder: Path, stem: str, *, formats: Sequence[str] = ("png",)) -> str:
        """Write ``fig`` (a figure, or a :class:`Drawing` of one) as ``folder/<stem>.<format>``
        for each format; return ``"<folder name>/<stem>"``. A figure is closed here; the files
        exist, and :attr:`sizes` has the figure, once :meth:`close` returns (at once when the
        figure is written here)."""
        from misclass.report.figures import close, write_figure

        folder.mkdir(parents=True, exist_ok=True)
        rel = f"{folder.name}/{stem}"
        paths = [str(folder / f"{stem}.{fmt}") for fmt in formats]
        data = None
        if self.workers:
            try:
                data = pickle.dumps(fig, protocol=pickle.HIGHEST_PROTOCOL)
            except (pickle.PicklingError, TypeError, AttributeError):
                data = None  # an artist (or an argument) that does not pickle: write it here
        if data is None:
            built = _figure(fig)
            try:
                self.sizes[rel] = write_figure(built, paths)
            finally:
                close(built)
        else:
            self.jobs.put((rel, data, paths))
            if not isinstance(fig, Drawing):
                close(fig)
        return rel

    def close(self) -> None:
        """Draw here the figures no worker has taken yet (the workers go on with theirs), wait
        for every worker; raise the first error (naming the figure)."""
        workers, self.workers = self.workers, []
        errors: list[str] = []
        while workers:  # this process is free now: it takes jobs as the workers do, one at a time
            try:
                stem, data, paths = self.jobs.get_nowait()
            except queue.Empty:
                break
            try:
                self.sizes[stem] = _render(data, paths)
            except Exception as exc:  # the same message a worker would give
                errors.append(f"report figure {stem!r} could not be written: {type(exc).__name__}: {exc}")
        for _ in workers:
            self.jobs.put(None)
        for worker in workers:
            worker.finish()
            errors += [f"report figure {stem!r} could not be written: {message}"
                       for stem, message in worker.answers.items() if message]
            self.sizes.update(worker.sizes)
            for stem, data, paths in worker.undone:  # a worker that stopped: draw its figure here
                self.sizes[stem] = _render(data, paths)
        if errors:
            raise RuntimeError(errors[0] + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))

    def __enter__(self) -> FigureWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:  # a section failed: its error is the one to see; stop the workers
            for worker in self.workers:
                worker.kill()
            self.workers = []


if __name__ == "__main__":  # run from the module proper, so unpickled drawings are its own Drawing
    from misclass.report.writer import _serve as serve

    serve()
    # nothing to clean up: every figure is written and its file closed, every answer flushed;
    # the interpreter's own teardown (0.3-0.5 s with matplotlib loaded) would hold the report
    sys.stderr.flush()
    os._exit(0)
