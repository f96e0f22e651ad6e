"""A store's images as PIL images: from its image array (digits, CIFAR) or from the files its
samples table names.

Relative paths are resolved against the image folder the store records (``images``, set by
``misclass import ... --images DIR``, or the dataset folder of ``folder:PATH``, in
``store.json``), then the store folder. The report's gallery, the review app and
``misclass explain`` all read images this way. :func:`match_image_files` finds the file of
each sample id in a folder for ``--images``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from misclass.errors import InputError
from misclass.store import Store


def dataset_root(store: Store) -> Path | None:
    """The image folder of a store: ``images`` in ``store.json`` (``import --images DIR``), or
    the folder of a store made from ``folder:PATH[,LABELS.csv]``, else None."""
    info = store.info()
    if info.get("images"):
        return Path(info["images"])
    spec = str(info.get("dataset", ""))
    if spec.startswith("folder:"):
        return Path(spec[len("folder:"):].split(",")[0].split("[")[0])
    return None


class StoreImages:
    """Image ``i`` of a store (store order) as a PIL image."""

    def __init__(self, store: Store):
        self.store = store
        self.arrays = store.images()
        self.paths: list[str] | None = None
        if self.arrays is None:
            samples = store.samples()
            if "path" in samples.columns:
                self.paths = samples["path"].astype(str).tolist()
        self.root = dataset_root(store)

    @property
    def available(self) -> bool:
        """Whether the store has images at all (an array or file paths)."""
        return self.arrays is not None or self.paths is not None

    def path(self, i: int) -> Path:
        """Where image ``i``'s file is (the first candidate that exists, else the first)."""
        p = Path(self.paths[i])
        if p.is_absolute():
            return p
        tries = [x / p for x in (self.root, self.store.path) if x is not None]
        return next((t for t in tries if t.is_file()), tries[0])

    def load(self, i: int) -> Image.Image:
        """Image ``i``; an :class:`InputError` naming the file when it cannot be read."""
        if self.arrays is not None:
            return Image.fromarray(np.asarray(self.arrays[i]))
        if self.paths is None:
            raise InputError(f"{self.store.path}: the store holds no images (no image array, no paths)")
        path = self.path(i)
        try:
            with Image.open(path) as im:
                return im.convert("RGB")
        except OSError as exc:
            raise InputError(f"{path}: not a readable image ({exc})") from exc


def fit_image(image: Image.Image, side: int) -> Image.Image:
    """Fit ``image`` in a ``side`` x ``side`` square: small images (digits, CIFAR) are enlarged
    by a whole factor with sharp pixels, large ones shrunk keeping their aspect ratio."""
    if max(image.size) < side:
        scale = max(1, side // max(image.size))
        return image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    image = image.copy()
    image.thumbnail((side, side))
    return image


def _shown(ids: Sequence[str], total: int) -> str:
    return f"{total:,} (first: {', '.join(repr(str(x)) for x in ids[:3])})"


def match_image_files(sample_ids: Sequence[str], folder: str | Path) -> list[str]:
    """The file of each sample id under ``folder``, as a path relative to it (POSIX form).

    A sample id names its file by its path relative to ``folder`` (``test/cat/0000.jpg``) or by
    the end of it, down to the bare file name (``0000.jpg``), when exactly one file under
    ``folder`` ends so. Ids without a file, or matching several, are one :class:`InputError`
    saying how many and naming the first few.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"--images {root}: no such folder")
    out: list[str | None] = []
    for sid in sample_ids:
        rel = PurePosixPath(str(sid).replace("\\", "/"))
        direct = not rel.is_absolute() and ".." not in rel.parts and str(rel) not in ("", ".")
        out.append(rel.as_posix() if direct and (root / rel).is_file() else None)
    todo = [i for i, p in enumerate(out) if p is None]
    if todo:
        by_name: dict[str, list[PurePosixPath]] = {}
        for f in root.rglob("*"):
            if f.is_file():
                r = PurePosixPath(f.relative_to(root).as_posix())
                by_name.setdefault(r.name, []).append(r)
        missing, ambiguous = [], []
        for i in todo:
            want = PurePosixPath(str(sample_ids[i]).replace("\\", "/")).parts
            hits = [r for r in by_name.get(want[-1] if want else "", [])
                    if r.parts[-len(want):] == want]
            if len(hits) == 1:
                out[i] = hits[0].as_posix()
            else:
                (ambiguous if hits else missing).append(str(sample_ids[i]))
        if missing:
            raise InputError(
                f"--images {root}: {_shown(missing, len(missing))} of the {len(out):,} sample ids "
                "have no file there; an id names its file by its path relative to the folder or "
                "by its file name; nothing was written")
        if ambiguous:
            raise InputError(
                f"--images {root}: {_shown(ambiguous, len(ambiguous))} sample ids match several "
                "files (the same file name in several sub-folders); use ids that are paths "
                "relative to the folder; nothing was written")
    return [str(p) for p in out]
