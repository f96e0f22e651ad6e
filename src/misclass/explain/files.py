"""Where explain runs are kept in the store folder: ``explain/<model>.json`` and ``.npz``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from misclass.explain.run import ExplainRun
from misclass.store import Store
from misclass.store.files import atomic_write as _atomic_write
from misclass.validation import check_model_name


# --------------------------------------------------------------------------- files
def explain_dir(store: Store) -> Path:
    """The folder of a store's explain results."""
    return store.layout.explain


def save_explain(store: Store, run: ExplainRun, payload: dict[str, Any]) -> Path:
    """Write ``explain/<model>.json`` (``payload``) and ``.npz`` (the triplets) atomically."""
    folder = explain_dir(store)
    name = check_model_name(run.model)

    def write_npz(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **run.triplets)

    _atomic_write(folder / f"{name}.npz", write_npz)
    text = json.dumps(payload, default=_json_value)
    _atomic_write(folder / f"{name}.json", lambda tmp: tmp.write_text(text))
    return folder / f"{name}.json"


def _json_value(obj: Any) -> Any:
    return obj.item() if hasattr(obj, "item") else str(obj)


def load_explain_results(store: Store) -> list[tuple[dict[str, Any], dict[str, np.ndarray]]]:
    """Every saved explain run of the store: (JSON payload, triplet arrays), by model name."""
    folder = explain_dir(store)
    out = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if path.name.startswith("."):
            continue
        payload = json.loads(path.read_text())
        npz = path.with_suffix(".npz")
        arrays = {}
        if npz.exists():
            with np.load(npz, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        out.append((payload, arrays))
    return out
