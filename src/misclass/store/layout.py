"""Every path in a store folder, named once.

::

    samples.parquet            sample_id, label (-1 unknown), optional path, split, ...
    classes.parquet            index (0..C-1), id, name, optional groups
    store.json                 what the store was made from
    images.npy                 optional uint8 images (N, H, W[, 3]) of array datasets
    models/<name>.parquet      sample_id, topk_ids, topk_probs (one row per sample)
    models/<name>.json         metadata: source, n, k, top-1, precision, created, ...
    models/<name>.probs.npy    optional float32 (N, C) probabilities (float16 when asked)
    models/<name>.logits.npy   optional float32 (N, C) logits
    models/<name>.features.npy optional float32 (N, D) penultimate features
    models/<name>.per_image.parquet  optional extra per-image columns
    annotations.sqlite         review decisions and imported labels
    explain/  thumbs/          derived files
    .partial/<model>/          resumable shards of an unfinished predict run
    .lock                      writers hold it exclusively for a whole write
    .commit.lock               readers share it; a commit holds it exclusively
    .txn/<id>/                 files of a write being staged (see ``transaction``)
"""

from __future__ import annotations

from pathlib import Path

#: The folder commands use when no ``--store`` is given.
DEFAULT_STORE = "misclass-store"

SAMPLES = "samples.parquet"
CLASSES = "classes.parquet"
INFO = "store.json"
IMAGES = "images.npy"
MODELS = "models"
ANNOTATIONS = "annotations.sqlite"
EXPLAIN = "explain"
THUMBS = "thumbs"
PARTIAL = ".partial"
LOCK = ".lock"
COMMIT_LOCK = ".commit.lock"
TXN = ".txn"

#: Files of one model; ``.parquet`` marks the model as present.
MODEL_SUFFIXES = (".parquet", ".json", ".probs.npy", ".features.npy", ".logits.npy",
                  ".per_image.parquet")
#: Full-matrix side files and the metadata key saying each is present.
ARRAY_SUFFIXES = {"probs": ".probs.npy", "logits": ".logits.npy", "features": ".features.npy"}


class Layout:
    """The paths of the store at ``root``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    samples = property(lambda self: self.root / SAMPLES)
    classes = property(lambda self: self.root / CLASSES)
    info = property(lambda self: self.root / INFO)
    images = property(lambda self: self.root / IMAGES)
    models = property(lambda self: self.root / MODELS)
    annotations = property(lambda self: self.root / ANNOTATIONS)
    explain = property(lambda self: self.root / EXPLAIN)
    thumbs = property(lambda self: self.root / THUMBS)
    partial = property(lambda self: self.root / PARTIAL)
    lock = property(lambda self: self.root / LOCK)
    commit_lock = property(lambda self: self.root / COMMIT_LOCK)
    txn = property(lambda self: self.root / TXN)

    def model(self, name: str, suffix: str = ".parquet") -> Path:
        """``models/<name><suffix>``; ``name`` must be file-safe."""
        return self.models / f"{_file_safe(name)}{suffix}"

    def model_files(self, name: str) -> list[Path]:
        """Every file one model may have."""
        return [self.model(name, s) for s in MODEL_SUFFIXES]

    def partial_model(self, name: str) -> Path:
        return self.partial / _file_safe(name)

    def relative(self, path: Path) -> str:
        """``path`` relative to the root, as stored in a commit record."""
        return Path(path).relative_to(self.root).as_posix()


def _file_safe(name: str) -> str:
    # imported here: validation loads numpy, and the CLI reads these names at start
    from misclass.validation import check_model_name

    return check_model_name(name)
