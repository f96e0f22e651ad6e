"""Figures of the explain section: image / saliency / erased triplets and the sweep plot."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from misclass.report.figures import new_figure


def _show(ax, image: np.ndarray) -> None:
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def triplet_figure(arrays: dict[str, np.ndarray], class_names: Sequence[str], *, model: str, method: str,
                   target: str, max_rows: int = 8):
    """One row per example: the image the model sees, its saliency map (over a grey copy of
    the image) and the image after erasure, with the predictions before and after."""
    import matplotlib.pyplot as plt

    n = min(len(arrays["original"]), max_rows)
    fig, axes = plt.subplots(n, 3, figsize=(7.2, 2.35 * n + 0.6), dpi=100, layout="constrained",
                             squeeze=False)
    names = list(class_names)
    for r in range(n):
        orig, erased = arrays["original"][r], arrays["erased"][r]
        sal = arrays["saliency"][r].astype(np.float32)
        label, before, after = (int(arrays[k][r]) for k in ("label", "before", "after"))
        planted = bool(arrays["planted"][r]) if "planted" in arrays else False
        _show(axes[r, 0], orig)
        axes[r, 0].set_xlabel(f"true {names[label]}, predicted {names[before]}"
                              + (" (planted patch)" if planted else ""), fontsize=8)
        grey = orig.mean(axis=-1) if orig.ndim == 3 else orig
        axes[r, 1].imshow(grey, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        im = axes[r, 1].imshow(sal, cmap="inferno", alpha=0.65, interpolation="nearest")
        axes[r, 1].set_xticks([])
        axes[r, 1].set_yticks([])
        cls = names[before] if target == "predicted" else names[label]
        axes[r, 1].set_xlabel(f"{method} saliency towards {cls}", fontsize=8)
        fig.colorbar(im, ax=axes[r, 1], fraction=0.046, pad=0.02, label="saliency")
        _show(axes[r, 2], erased)
        axes[r, 2].set_xlabel(f"after erasure: {names[after]} ({arrays['outcome'][r]})", fontsize=8)
        axes[r, 0].set_ylabel(str(arrays["sample_id"][r]), fontsize=7)
    for c, title in enumerate(("image the model sees", "saliency map", "salient boxes erased")):
        axes[0, c].set_title(title, fontsize=9)
    fig.suptitle(f"{model}: what the saliency points at, and what erasing it does", fontsize=10)
    return fig


def sweep_figure(sweep: pd.DataFrame, *, model: str):
    """Fixes (saliency vs random), breaks and net gain against the share of pixels erased."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100, layout="constrained")
    x = sweep["erased_fraction"].to_numpy() * 100
    boxes = sorted(sweep["box"].unique(), key=lambda b: int(b.split("x")[0]))
    markers = dict(zip(boxes, "os^Dv<>p", strict=False))
    ax = axes[0]
    for box, m in markers.items():
        sel = (sweep["box"] == box).to_numpy()
        ax.plot(x[sel], sweep["fixes"][sel], marker=m, ls="-", color="#2171b5", label=f"saliency, box {box}")
        ax.plot(x[sel], sweep["random_fixes"][sel], marker=m, ls=":", color="#969696",
                label=f"random, box {box}")
    ax.set(xlabel="pixels erased (% of the image, mean over images)", ylabel="misclassified images fixed",
           title="Fixes: saliency-guided vs random boxes of equal area")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    ax = axes[1]
    for box, m in markers.items():
        sel = (sweep["box"] == box).to_numpy()
        ax.plot(x[sel], sweep["net_gain"][sel], marker=m, label=f"box {box}")
        for xi, yi, p in zip(x[sel], sweep["net_gain"][sel], sweep["top_percent"][sel], strict=True):
            ax.annotate(f"{p:g}%", (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")
    best = sweep[sweep["best"]]
    if len(best):
        b = best.iloc[0]
        ax.scatter([b["erased_fraction"] * 100], [b["net_gain"]], s=160, facecolors="none", edgecolors="red",
                   label=f"largest net gain: top {b['top_percent']:g}%, box {b['box']}")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xlabel="pixels erased (% of the image, mean over images)",
           ylabel="net gain (images): fixed minus broken",
           title="Net gain (point labels: top % of pixels)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    fig.suptitle(f"{model}: sweep over the share of top pixels and the box size")
    return fig


def planted_figure(planted: dict, *, model: str):
    """Fix rates on planted and other errors, saliency erasure vs random control."""
    fig, ax = new_figure(7.5, 3.8)
    groups = [("planted errors\n(follow the patch)", "planted_errors", planted["planted_errors"]),
              ("other errors\n(no planted patch)", "other_errors", planted["other_errors"]),
              ("planted images,\nthird class", "other_planted_image_errors",
               planted.get("other_planted_image_errors", 0))]
    xs = np.arange(len(groups))
    sal = [100 * (planted["fix_rate"].get(k) or 0) for _, k, _ in groups]
    rnd = [100 * (planted["random_fix_rate"].get(k) or 0) for _, k, _ in groups]
    ax.bar(xs - 0.2, sal, width=0.4, color="#2171b5", label="saliency-guided erasure")
    ax.bar(xs + 0.2, rnd, width=0.4, color="#bdbdbd", label="random boxes, same area")
    for x, v, w in zip(xs, sal, rnd, strict=True):
        ax.text(x - 0.2, v + 1, f"{v:.0f}%", ha="center", fontsize=8)
        ax.text(x + 0.2, w + 1, f"{w:.0f}%", ha="center", fontsize=8, color="#555555")
    ax.set_xticks(xs, [f"{g}\nn = {n}" for g, _, n in groups], fontsize=8)
    ax.set_xlabel("kind of error (images)")
    ax.set_ylabel("errors fixed by the erasure (%)")
    ax.set_ylim(0, max([*sal, *rnd, 10]) * 1.15)
    ax.set_title(f"{model}: does erasing the salient pixels remove the planted cause?")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2, fontsize=9, frameon=False)
    return fig
