"""A dataset with a planted cause of error: digits on 32x32 colour images with a small
class-coloured patch in a corner.

Each of scikit-learn's 1,797 digits is enlarged to 22x22 (bilinear), drawn in grey at a
random offset inside rows and columns 4..28 of a black 32x32 RGB image, and gets a 4x4
patch in a random corner (never overlapping the digit) plus Gaussian pixel noise. Class k's
patch has colour :data:`PATCH_COLOURS` [k].

- **train** split (a quarter of the images by default): ``absent`` (default 30%) of the
  images have no patch; on the others the patch shows the image's own class (on a ``tie``
  share, default all of them; the rest show another class). A model learns the patch as a
  shortcut, and the digit from the images without one;
- **test** split: a seeded ``swap`` share (default 50%) of the images, the *planted* ones,
  get a patch showing another class; the others get no patch (``own_patch_in_test=True``
  gives them their own class's patch instead).

Errors on planted images that follow the patch (predicted as the patch's class) are
caused by the patch; errors on the images without a patch are not. So a saliency method can
be judged: its mass inside the patch, and the erasure's fix rate on planted errors against
other errors. The samples table records, per image, ``planted`` (bool), ``patch_class``
(the class the patch shows; -1: no patch), the patch box ``patch_y0``, ``patch_x0``,
``patch_y1``, ``patch_x1`` (where the patch is or would be) and the digit's box
``object_y0`` ... ``object_x1`` (``misclass explain --spare object`` keeps it).

>>> ds = load_planted_digits(seed=0)
>>> ds.images.shape, ds.name
((1797, 32, 32, 3), 'planted-digits')
>>> test = ds.samples[ds.samples.split == "test"]
>>> len(test), int(test.planted.sum()), bool((test.patch_class >= 0).eq(test.planted).all())
(1348, 674, True)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits as _sk_load_digits
from sklearn.model_selection import train_test_split

from misclass.data.dataset import Dataset
from misclass.errors import InputError

SIZE = 32
DIGIT = 22
PATCH = 4
MARGIN = 4  # the digit stays inside [MARGIN, SIZE - MARGIN); the patches sit in the corners
PATCH_COLOURS = np.array([
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (170, 110, 40),
], dtype=np.uint8)
BOX_COLUMNS = ("y0", "x0", "y1", "x1")


def _enlarge(digits: np.ndarray) -> np.ndarray:
    from PIL import Image

    out = np.empty((len(digits), DIGIT, DIGIT), dtype=np.uint8)
    for i, d in enumerate(digits):
        img = Image.fromarray(np.round(d * (255.0 / 16.0)).astype(np.uint8))
        out[i] = np.asarray(img.resize((DIGIT, DIGIT), Image.BILINEAR))
    return out


def load_planted_digits(*, seed: int = 0, tie: float = 1.0, swap: float = 0.5, test_size: float = 0.75,
                        absent: float = 0.3, own_patch_in_test: bool = False, noise: float = 12.0) -> Dataset:
    """The planted-cause digits (see the module docstring); the same seed gives the same images.

    Parameters
    ----------
    tie : share of patched training images whose patch shows their own class
    absent : share of training images without a patch
    swap : share of test images whose patch shows another class (the planted ones)
    own_patch_in_test : the other test images show their own class's patch (default: none)
    test_size : share of images in the (stratified) test split
    noise : standard deviation of the Gaussian pixel noise (0..255 scale)
    """
    for name, value in (("tie", tie), ("swap", swap), ("test_size", test_size), ("absent", absent)):
        if not 0 <= value <= 1:
            raise InputError(f"planted-digits: {name} {value}: expected a share between 0 and 1")
    bunch = _sk_load_digits()
    labels = bunch.target.astype(np.int64)
    n = len(labels)
    rng = np.random.default_rng(seed)
    _, test_idx = train_test_split(np.arange(n), test_size=test_size, stratify=labels, random_state=seed)
    is_test = np.zeros(n, dtype=bool)
    is_test[test_idx] = True
    # the class each patch shows: own class, or a uniformly drawn other class
    other = (labels + rng.integers(1, 10, n)) % 10
    planted = np.where(is_test, rng.random(n) < swap, rng.random(n) >= tie)
    if swap > 0:  # exactly round(swap * n_test) planted test images, seeded
        order = rng.permutation(test_idx)
        planted[test_idx] = False
        planted[order[: int(round(swap * len(test_idx)))]] = True
    patch_class = np.where(planted, other, labels)
    has_patch = np.where(is_test, True if own_patch_in_test else planted, rng.random(n) >= absent)
    patch_class = np.where(has_patch, patch_class, -1)
    planted &= has_patch
    oy = rng.integers(MARGIN, SIZE - MARGIN - DIGIT + 1, n)
    ox = rng.integers(MARGIN, SIZE - MARGIN - DIGIT + 1, n)
    corner = rng.integers(0, 4, n)
    py = np.where(corner // 2 == 0, 0, SIZE - PATCH)
    px = np.where(corner % 2 == 0, 0, SIZE - PATCH)
    canvas = np.zeros((n, SIZE, SIZE, 3), dtype=np.float64)
    digits = _enlarge(bunch.images)
    for i in range(n):
        canvas[i, oy[i]:oy[i] + DIGIT, ox[i]:ox[i] + DIGIT, :] = digits[i][..., None]
        if has_patch[i]:
            canvas[i, py[i]:py[i] + PATCH, px[i]:px[i] + PATCH, :] = PATCH_COLOURS[patch_class[i]]
    if noise > 0:
        canvas += rng.normal(0.0, noise, canvas.shape)
    images = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
    samples = pd.DataFrame({
        "sample_id": [f"planted-digits-{i}" for i in range(n)],
        "label": labels,
        "split": np.where(is_test, "test", "train").astype(object),
        "planted": planted,
        "patch_class": patch_class.astype(np.int64),
        "patch_y0": py, "patch_x0": px, "patch_y1": py + PATCH, "patch_x1": px + PATCH,
        "object_y0": oy, "object_x0": ox, "object_y1": oy + DIGIT, "object_x1": ox + DIGIT,
    })
    classes = pd.DataFrame({"id": [str(i) for i in range(10)], "name": [str(i) for i in range(10)]})
    return Dataset("planted-digits", samples, classes, images=images)


def sample_boxes(samples: pd.DataFrame, prefix: str) -> np.ndarray | None:
    """``(N, 4)`` boxes from the columns ``<prefix>_y0 .. <prefix>_x1`` of a samples table, or
    None when it has none (e.g. ``prefix="patch"`` or ``"object"`` on planted-digits)."""
    cols = [f"{prefix}_{c}" for c in BOX_COLUMNS]
    if not all(c in samples.columns for c in cols):
        return None
    return samples[cols].to_numpy(dtype=np.int64)
