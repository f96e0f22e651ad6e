"""The CIFAR-10 python archive: a ``cifar-10-batches-py`` folder or its ``.tar.gz``."""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd

from misclass.data.dataset import Dataset
from misclass.errors import InputError

TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCH = "test_batch"


def _unpickle(raw: bytes, source: str) -> dict:
    try:
        obj = pickle.loads(raw, encoding="bytes")
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is bad input
        raise InputError(f"{source}: not a CIFAR-10 python batch ({exc})") from exc
    if not isinstance(obj, dict):
        raise InputError(f"{source}: expected a pickled dict")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _read_members(path: Path) -> dict[str, bytes]:
    wanted = set(TRAIN_BATCHES) | {TEST_BATCH, "batches.meta"}
    found: dict[str, bytes] = {}
    if path.is_dir():
        for name in wanted:
            f = path / name
            if f.exists():
                found[name] = f.read_bytes()
    elif path.is_file() and path.name.endswith((".tar.gz", ".tgz", ".tar")):
        try:
            with tarfile.open(path) as tar:
                for member in tar.getmembers():
                    base = Path(member.name).name
                    if member.isfile() and base in wanted:
                        found[base] = tar.extractfile(member).read()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise InputError(f"{path}: not a readable tar archive ({exc})") from exc
    else:
        raise InputError(f"{path}: expected the cifar-10-batches-py folder or its .tar.gz")
    return found


def load_cifar10(path: str | Path) -> Dataset:
    """Load CIFAR-10 from the python archive; train = data_batch_1..5, test = test_batch.

    Sample ids are ``<batch>/<row>`` with the file name when the batch holds one.
    """
    path = Path(path)
    members = _read_members(path)
    missing = [b for b in [*TRAIN_BATCHES, TEST_BATCH, "batches.meta"] if b not in members]
    if missing:
        raise InputError(f"{path}: missing CIFAR-10 files: {', '.join(missing)}")
    meta = _unpickle(members["batches.meta"], f"{path}/batches.meta")
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in meta["label_names"]]
    images, labels, ids, split = [], [], [], []
    for batch in [*TRAIN_BATCHES, TEST_BATCH]:
        d = _unpickle(members[batch], f"{path}/{batch}")
        try:
            data = np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            lab = np.asarray(d["labels"], dtype=np.int64)
        except (KeyError, ValueError) as exc:
            raise InputError(f"{path}/{batch}: expected 'data' (N x 3072) and 'labels' ({exc})") \
                from exc
        if len(lab) != len(data):
            raise InputError(f"{path}/{batch}: {len(data)} images but {len(lab)} labels")
        fnames = d.get("filenames")
        for i in range(len(lab)):
            fn = fnames[i].decode() if fnames is not None and isinstance(fnames[i], bytes) else None
            ids.append(f"{batch}/{fn}" if fn else f"{batch}/{i}")
        images.append(data)
        labels.append(lab)
        split += ["test" if batch == TEST_BATCH else "train"] * len(lab)
    samples = pd.DataFrame({"sample_id": ids, "label": np.concatenate(labels), "split": split})
    if samples["label"].max() >= len(names) or samples["label"].min() < 0:
        raise InputError(f"{path}: a label is outside 0..{len(names) - 1}")
    classes = pd.DataFrame({"id": names, "name": names})
    return Dataset(f"cifar10:{path}", samples, classes, images=np.concatenate(images))
