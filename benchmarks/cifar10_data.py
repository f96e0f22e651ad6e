"""What the CIFAR-10 benchmarks share: the shared data folder and a store of the published
CIFAR-10 ResNets predicted by ``misclass predict`` on the JPEG test images."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEPTHS = (20, 32, 44, 56)
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def predict_resnets(data: Path, store: Path, *, depths: Sequence[int] = DEPTHS, threads: int = 2,
                    batch_size: int = 500, index: Path | None = None, save: Sequence[str] = ()) -> float:
    """``misclass predict`` of ``resnet<depth>`` over the JPEG test images in ``index``'s order
    (default: all 10,000, ``test_index.csv``), in this process; returns the seconds it took.
    ``save``: extra flags such as ``--save-logits``."""
    from misclass.cli import main as misclass

    jpeg, weights = data / "cifar10-jpeg", data / "cifar10-resnets"
    models = [a for d in depths for a in ("-m", f"cifar-resnet{d}@{weights / f'resnet{d}.th'}")]
    start = time.perf_counter()
    try:
        misclass(["predict", "--data", f"folder:{jpeg},{index or jpeg / 'test_index.csv'}", *models,
                  "--mean", ",".join(map(str, MEAN)), "--std", ",".join(map(str, STD)), *save,
                  "--threads", str(threads), "--batch-size", str(batch_size), "--store", str(store)])
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    return time.perf_counter() - start


def resnet_store(store: Path | None, data: Path, *, depths: Sequence[int] = DEPTHS, threads: int = 2
                 ) -> tuple[Path, tempfile.TemporaryDirectory | None]:
    """``store`` when given, else a new store of the ResNets with logits and features in a
    temporary folder (returned too, to keep it alive)."""
    if store is not None:
        return store, None
    tmp = tempfile.TemporaryDirectory(prefix="misclass-cifar10-")
    path = Path(tmp.name) / "store"
    seconds = predict_resnets(data, path, depths=depths, threads=threads,
                              save=("--save-logits", "--save-features"))
    print(f"predicted {', '.join(f'resnet{d}' for d in depths)} in {seconds:.0f} s")
    return path, tmp
