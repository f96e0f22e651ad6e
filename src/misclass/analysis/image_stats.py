"""Simple image statistics used as extra features of the learned failure predictor.

All on a 0..1 intensity scale; grey = 0.299 R + 0.587 G + 0.114 B.

- brightness: mean grey level;
- contrast: standard deviation of the grey levels (RMS contrast);
- sharpness: variance of the Laplacian of the grey image;
- colourfulness: Hasler and Suesstrunk's (2003) metric, 0 for grey images;
- edge_density: fraction of pixels whose Sobel gradient magnitude exceeds 0.25.

>>> flat = np.full((1, 4, 4), 128, dtype=np.uint8)
>>> image_statistics(flat).round(3).iloc[0].tolist()
[0.502, 0.0, 0.0, 0.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import ndimage

COLUMNS = ["brightness", "contrast", "sharpness", "colourfulness", "edge_density"]
EDGE_THRESHOLD = 0.25


def _one(image: np.ndarray) -> list[float]:
    x = np.asarray(image, dtype=np.float64) / 255.0
    if x.ndim == 3 and x.shape[2] == 1:
        x = x[:, :, 0]
    if x.ndim == 3:
        r, g, b = x[:, :, 0], x[:, :, 1], x[:, :, 2]
        grey = 0.299 * r + 0.587 * g + 0.114 * b
        rg, yb = r - g, 0.5 * (r + g) - b
        colour = float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))
    else:
        grey, colour = x, 0.0
    lap = ndimage.laplace(grey, mode="reflect")
    grad = np.hypot(ndimage.sobel(grey, axis=0, mode="reflect"), ndimage.sobel(grey, axis=1, mode="reflect"))
    return [float(grey.mean()), float(grey.std()), float(lap.var()), colour,
            float((grad > EDGE_THRESHOLD).mean())]


def image_statistics(images: np.ndarray | Sequence[np.ndarray],
                     progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """One row of :data:`COLUMNS` per image; ``images`` is (N, H, W[, 3]) uint8 or a sequence
    of such arrays of any sizes. ``progress(i)`` is called after each image."""
    rows = []
    for i, image in enumerate(images):
        rows.append(_one(image))
        if progress:
            progress(i + 1)
    return pd.DataFrame(rows, columns=COLUMNS)
