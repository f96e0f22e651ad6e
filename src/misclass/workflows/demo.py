"""``misclass demo``: the builtin zoo on the digits dataset, its store and its report.

:func:`demo` (re)creates a store of the digits test split, trains the scikit-learn zoo (and,
with ``misclass[torch]``, the small CNN zoo) on the training split, stores every model's
test predictions and writes the report (:func:`misclass.workflows.report.report`).
"""

from __future__ import annotations

import importlib.util
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from misclass.workflows.common import json_ready

if TYPE_CHECKING:
    import pandas as pd

    from misclass.store import Store
    from misclass.workflows.models import ModelsResult
    from misclass.workflows.report import ReportResult

__all__ = ["DEMO_REPORT", "DEMO_STORE", "DemoResult", "demo"]

DEMO_STORE = "misclass-demo/store"
DEMO_REPORT = "misclass-demo/report"
#: The report options of the demo (the others are the report's defaults).
DEMO_REPORT_OPTIONS = {"threshold": 0.3, "top_classes": 10, "k": 3}


@dataclass(frozen=True)
class DemoResult:
    """What ``misclass demo`` made: the store, its models with their accuracy
    (:class:`~misclass.workflows.models.ModelsResult`) and family, the report, the sizes of
    the training and test splits, and the seconds it took."""

    store: str
    models: ModelsResult
    report: ReportResult
    n_train: int
    seconds: float
    families: dict[str, str] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per model (index ``name``), best top-1 first: family, n, top1, top5."""
        frame = self.models.to_frame()
        frame.insert(0, "family", [self.families.get(name, "") for name in frame.index])
        return frame.sort_values("top1", ascending=False, kind="stable")

    def to_dict(self) -> dict[str, Any]:
        """The store, the report's page, the split sizes, the seconds and every model
        (name, family, n, top1, top5), best top-1 first."""
        rows = [{"name": name, "family": r.family, "n": int(r.n), "top1": r.top1, "top5": r.top5}
                for name, r in self.to_frame().iterrows()]
        return json_ready({"store": self.store, "report": str(self.report.index), "n_train": self.n_train,
                           "n_test": self.models.n_samples, "seconds": self.seconds, "models": rows})


def demo(
    store: Store | str | os.PathLike = DEMO_STORE,
    *,
    out: str | os.PathLike = DEMO_REPORT,
    seed: int = 0,
    console=None,
    progress: bool = True,
) -> DemoResult:
    """Train the builtin zoo on the digits dataset, write the store and the report.

    ``store`` is (re)created; one that ``misclass demo`` did not make is refused, so it is not
    overwritten. ``seed`` seeds the split and the models; ``console``, ``progress``: where the
    progress bars go, and whether to show them.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from misclass.data import load_digits
    from misclass.errors import StoreError
    from misclass.store import Store
    from misclass.workflows.models import models
    from misclass.workflows.report import report
    from misclass.zoo import ZOO, train_zoo

    start = time.perf_counter()
    path = store.path if isinstance(store, Store) else store
    s = Store(path)
    if s.exists() and s.info().get("dataset") != "digits":
        raise StoreError(f"{path}: holds a store that 'misclass demo' did not make; choose "
                         "another --store so it is not overwritten")
    data = load_digits(seed=seed)
    train, test = data.split("train"), data.split("test")
    s = Store.create(path, samples=test.samples, classes=data.classes, images=test.images,
                     info={"dataset": "digits", "seed": seed, "split": "test"}, overwrite=True)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not progress) as bar:
        task = bar.add_task("training the zoo", total=len(ZOO))
        results = train_zoo(train.images, train.labels, test.images, n_classes=len(data.classes),
                            seed=seed, on_done=lambda name: bar.update(
                                task, advance=1, description=f"trained {name}"))
    for r in results:
        s.write_model(r.name, r.topk_ids, r.topk_probs, probs=r.probs, metadata=r.metadata,
                      replace=True)
    families = {name: entry.family for name, entry in ZOO.items()}
    if importlib.util.find_spec("torch") is not None:  # the CNN zoo, with misclass[torch]
        from misclass.training.run import train_cnn_zoo

        families.update(train_cnn_zoo(data, s.path, seed=seed, console=console, progress=progress))
    table = models(s)
    page = report(s, out=out, **DEMO_REPORT_OPTIONS, console=console, progress=progress)
    return DemoResult(str(s.path), table, page, len(train), time.perf_counter() - start, families)
