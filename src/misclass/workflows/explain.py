"""``misclass explain``: saliency maps of a torch model, saliency-guided erasure with its
random control, and what it says about the cause of each error.

:func:`explain` loads the model (one in the store that ``misclass train`` or ``misclass
predict`` wrote, or a model spec), runs :func:`misclass.explain.explain_model` on the
store's images and keeps the run in ``STORE/explain/`` for the report, as the command does.
Its :class:`ExplainResult` gives the JSON of ``misclass explain --json`` and the accounting,
images, pairs and sweep as DataFrames. :func:`saved_explanations` reads the kept runs back
(what the report shows: it does not rerun the model).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from misclass.errors import InputError
from misclass.workflows.common import as_store, json_ready

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from misclass.explain import ExplainRun
    from misclass.store import Store

__all__ = ["ExplainResult", "explain", "saved_explanations"]


@dataclass(frozen=True)
class ExplainResult:
    """One explain run of one model.

    ``payload`` is the run as JSON values (what ``STORE/explain/<model>.json`` keeps),
    ``triplets`` the example images for the report (original, saliency, erased; what
    ``<model>.npz`` keeps), ``run`` the :class:`~misclass.explain.ExplainRun` itself (None
    when read back from the store) and ``saved`` the JSON file (None when not saved).
    """

    store: str
    payload: dict[str, Any]
    triplets: dict[str, np.ndarray] = field(default_factory=dict)
    run: ExplainRun | None = None
    saved: str | None = None

    @property
    def model(self) -> str:
        return self.payload["model"]

    def to_dict(self) -> dict[str, Any]:
        """What ``misclass explain --json`` writes."""
        return {"store": self.store, **self.payload}

    def accounting(self) -> pd.DataFrame:
        """The saliency-guided erasure and its random control (index ``erasure``:
        ``saliency``, ``random``): misclassified images fixed / moved / unchanged, control
        images broken, and the rates."""
        import pandas as pd

        acc = self.payload["accounting"]
        return pd.DataFrame([acc["saliency"], acc["random"]],
                            index=pd.Index(["saliency", "random"], name="erasure"))

    def images(self) -> pd.DataFrame:
        """One row per explained image (index ``sample_id``): label, prediction before and
        after each erasure, outcome (fixed, moved, unchanged, broken, kept), erased share."""
        import pandas as pd

        return pd.DataFrame(self.payload["images"]).set_index("sample_id")

    def to_frame(self) -> pd.DataFrame:
        """The explained images (see :meth:`images`)."""
        return self.images()

    def pairs(self) -> pd.DataFrame:
        """One row per confusion pair (index ``true_name``, ``predicted_name``; most
        misclassified images first): images, fix rates of both erasures, one-sided McNemar p,
        the interference / similarity label and the confusion type."""
        import pandas as pd

        frame = pd.DataFrame(self.payload["pairs"])
        if frame.empty:
            return pd.DataFrame(index=pd.MultiIndex.from_tuples([], names=["true_name", "predicted_name"]))
        return frame.set_index(["true_name", "predicted_name"])

    def sweep(self) -> pd.DataFrame | None:
        """The sweep over top share and box size (index ``top_percent``, ``box``): erased
        share, fixes, breaks, net gain, random fixes, p, ``best``; None without a sweep."""
        import pandas as pd

        if self.payload.get("sweep") is None:
            return None
        return pd.DataFrame(self.payload["sweep"]).set_index(["top_percent", "box"])


def _ids(images: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if images is None:
        return None
    parts = images.split(",") if isinstance(images, str) else [str(i) for i in images]
    return tuple(p.strip() for p in parts if p.strip())


def _box(box, what: str = "--box") -> tuple[int, int] | None:
    from misclass.analysis.erasure import parse_box

    if box is None or isinstance(box, str | int):
        return None if box is None else parse_box(str(box))
    dy, dx = (int(v) for v in box)
    if dy < 1 or dx < 1:
        raise InputError(f"{what} {tuple(box)}: box sides must be at least 1 pixel")
    return dy, dx


def _percents(values: str | Sequence[float] | None) -> tuple[float, ...]:
    from misclass.explain import DEFAULT_SWEEP_PERCENTS

    if values is None:
        return DEFAULT_SWEEP_PERCENTS
    if not isinstance(values, str):
        return tuple(float(p) for p in values)
    try:
        return tuple(float(p) for p in values.split(",") if p.strip())
    except ValueError:
        raise InputError(f"--sweep-percents {values!r}: expected numbers separated by commas, e.g. "
                         "1,2,5,10") from None


def _pairs(pairs, class_names: list[str]) -> tuple[tuple[int, int], ...] | None:
    from misclass.explain import parse_pairs

    if pairs is None:
        return None
    text = pairs if isinstance(pairs, str) else ",".join(f"{t}:{p}" for t, p in pairs)
    return parse_pairs(text, class_names)


def explain(
    store: Store | str | os.PathLike,
    *,
    model: str,
    images: str | Sequence[str] | None = None,
    pairs: str | Sequence[tuple[int | str, int | str]] | None = None,
    method: str = "gradcam",
    target: str = "predicted",
    top_percent: float = 5.0,
    box: str | tuple[int, int] | None = None,
    fill: str = "zero",
    merge: bool = True,
    spare: str | tuple[int, int, int, int] | None = None,
    correct: int | None = None,
    sweep: bool = True,
    sweep_percents: str | Sequence[float] | None = None,
    sweep_boxes: str | Sequence[str | tuple[int, int]] | None = None,
    threshold: float = 0.3,
    seed: int = 0,
    device: str = "cpu",
    threads: int | None = None,
    save: bool = True,
    progress: bool = True,
    console=None,
) -> ExplainResult:
    """Explain a model's errors with saliency maps and test the explanation by erasing what is
    salient, as ``misclass explain`` does (needs ``misclass[torch]``).

    Parameters
    ----------
    store : a :class:`~misclass.store.Store` or the path of one (it holds the images)
    model : a torch model in the store (trained by ``misclass train`` or stored by ``misclass
        predict``) or a model spec such as ``ckpt:PATH`` or ``timm:NAME@PATH``
    images : sample ids to explain, a list or comma-separated (default: every misclassified
        image, with correctly classified controls)
    pairs : only misclassified images of these (true, predicted) pairs, by class name or id:
        ``"ship:airplane,cat:dog"`` or ``[("ship", "airplane"), (3, 5)]``
    method : saliency: ``gradcam``, ``gradient``, ``smoothgrad`` or ``integrated-gradients``
    target : the class the saliency explains: ``predicted`` or ``true``
    top_percent : share of the most salient pixels boxes are put around (%)
    box : box around each top pixel: ``"DXxDY"`` in pixels or ``(height, width)`` (default:
        1/8 of the image side)
    fill : erased pixels become ``zero`` (black), ``mean`` (dataset mean colour) or ``blur``
    merge : merge overlapping boxes
    spare : never erase these pixels: ``"object"`` (the samples' object_y0..object_x1
        columns), ``"Y0,X0,Y1,X1"`` or a tuple of them
    correct : correctly classified control images (default: as many as misclassified, at
        most 500)
    sweep, sweep_percents, sweep_boxes : also sweep top % and box size over this grid: top
        shares as ``"1,5"`` or numbers (default: 1, 2, 5, 10, 20), boxes as for ``box``
        (default: 1/16, 1/8 and 1/4 of the side)
    threshold : network threshold on v(j|i) for the pairs' symmetric / one-way type
    seed : seed of the control images, random boxes and SmoothGrad
    device, threads : torch device (``cpu``, ``cuda``, ``auto``, ...) and CPU threads (None:
        torch's setting)
    save : keep the run in ``STORE/explain/<model>.json`` and ``.npz`` for the report
    progress, console : show progress bars (on this rich console)
    """
    from misclass.analysis.erasure import check_percent
    from misclass.engine.device import torch_threads
    from misclass.explain import ExplainOptions, explain_model, load_explain_model, parse_spare, save_explain

    check_percent(top_percent)
    s = as_store(store)
    if spare is not None and not isinstance(spare, str):
        spare = ",".join(str(int(v)) for v in spare)
    if isinstance(sweep_boxes, str):
        sweep_boxes = sweep_boxes.split(",")
    opts = ExplainOptions(
        method=method, target=target, percent=top_percent, box=_box(box), fill=fill, merge=merge,
        spare=parse_spare(spare), images=_ids(images), pairs=_pairs(pairs, s.class_names()),
        correct=correct, sweep=sweep, sweep_percents=_percents(sweep_percents),
        sweep_boxes=None if sweep_boxes is None else tuple(_box(b, "--sweep-boxes") for b in sweep_boxes),
        threshold=threshold, seed=seed, device=device).check()
    with torch_threads(threads):
        loaded = load_explain_model(s, model, seed=seed)
        run = explain_model(s, loaded, opts, console=console, progress=progress)
    payload = json_ready(run.to_dict())
    saved = str(save_explain(s, run, payload)) if save else None
    return ExplainResult(str(s.path), payload, run.triplets, run, saved)


def saved_explanations(store: Store | str | os.PathLike) -> list[ExplainResult]:
    """Every explain run kept in ``STORE/explain/``, by model name (what the report shows)."""
    from misclass.explain import explain_dir, load_explain_results

    s = as_store(store)
    folder = explain_dir(s)
    return [ExplainResult(str(s.path), payload, arrays, saved=str(folder / f"{payload['model']}.json"))
            for payload, arrays in load_explain_results(s)]
