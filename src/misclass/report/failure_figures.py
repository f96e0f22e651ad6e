"""The failure section's figure: risk against coverage, the ROC of error detection and the
reliability diagram of one model.

:func:`curves_data` computes, in the report's process, the curves the figure shows (plain
arrays); :func:`draw_curves` builds the figure from them, in the report's figure workers
(:class:`misclass.report.writer.Drawing`): at import time this module imports only
misclass's number formatting; matplotlib when it draws.
"""

from __future__ import annotations

from misclass.format import count, plural

MAX_COLOURED = 6  # with more scores, the rest are drawn thin and grey
SHOWN_SCORES = ("msp", "margin", "entropy", "energy", "mc_mutual_info", "knn_distance", "mahalanobis",
                "disagreement", "class_error_rate", "learned")


def _highlighted(a) -> tuple[list[str], list[str]]:
    """The scores drawn in colour and in grey: every score when there are at most
    :data:`MAX_COLOURED`; else the learned predictor, MSP (the usual baseline) and the best
    others by AUROC, the rest thin and grey. Each list is best AUROC first."""
    shown = [s for s in SHOWN_SCORES if s in a.test_scores]

    def auroc(name: str) -> float:
        m = a.learned if name == "learned" else a.metrics.get(name)
        return -1.0 if m is None or m.auroc is None else float(m.auroc)

    shown.sort(key=lambda n: (-auroc(n), SHOWN_SCORES.index(n)))
    if len(shown) <= MAX_COLOURED:
        return shown, []
    first = [n for n in ("learned", "msp") if n in shown]
    rest = [n for n in shown if n not in first]
    colour = set(first + rest[: MAX_COLOURED - len(first)])
    return [n for n in shown if n in colour], [n for n in shown if n not in colour]


def _auroc_text(a, name: str) -> str:
    m = a.learned if name == "learned" else a.metrics.get(name)
    return "AUROC -" if m is None or m.auroc is None else f"AUROC {m.auroc:.3f}"


STYLES = {"learned": {"lw": 2.6, "color": "black", "zorder": 4}, "coloured": {"lw": 1.8, "zorder": 3},
          "grey": {"lw": 0.9, "color": "#b0b0b0", "zorder": 2}}
PALETTE = ("#2171b5", "#d94801", "#238b45", "#6a51a3", "#8c6d31", "#e7298a")


def curves_figure(name: str, res):
    """Risk against coverage, the ROC of error detection and the reliability diagram of one
    model (``res``: its :class:`~misclass.analysis.failure.FailureAnalysis`), with one legend
    below the panels (score and its AUROC)."""
    return draw_curves(**curves_data(name, res))


def curves_data(name: str, res) -> dict:
    """What :func:`draw_curves` draws, in %: for each score (grey ones first) its style
    ("learned", "coloured" or "grey"), its risk-coverage curve, its ROC (None when undefined)
    and its legend text (None: no entry of its own); the reliability bins; the numbers of
    held-out images and errors."""
    from misclass.analysis.selective import risk_coverage, roc_points

    errors = res.test_errors
    coloured, grey = _highlighted(res)
    lines = []
    for sname in [*grey, *coloured]:
        values = res.test_scores[sname]
        kind = "learned" if sname == "learned" else "coloured" if sname in coloured else "grey"
        cov, risk = risk_coverage(values, errors)
        roc = roc_points(values, errors)
        lines.append((kind, (cov * 100, risk * 100), None if roc is None else (roc[0] * 100, roc[1] * 100),
                      f"{sname} ({_auroc_text(res, sname)})" if sname in coloured else None))
    cal = res.confidence_calibration
    calibration = None
    if cal is not None:
        centres = (cal.bin_edges[:-1] + cal.bin_edges[1:]) / 2
        filled = cal.bin_count > 0
        calibration = (100 * centres[filled], 100 * cal.bin_accuracy[filled], len(centres), 100 * cal.ece)
    return {"name": name, "lines": lines, "grey": grey, "calibration": calibration,
            "n_images": len(errors), "n_errors": int(errors.sum())}


def draw_curves(name: str, lines: list, grey: list[str], calibration: tuple | None, n_images: int,
                n_errors: int):
    """The figure of :func:`curves_data`."""
    import textwrap

    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), dpi=100, layout="constrained")
    palette = iter(PALETTE)
    handles, texts = [], []
    for kind, (cov, risk), roc, text in lines:  # grey ones first, under the coloured ones
        style = STYLES[kind] if kind != "coloured" else {**STYLES[kind], "color": next(palette)}
        (line,) = axes[0].plot(cov, risk, **style)
        if roc is not None:
            axes[1].plot(roc[0], roc[1], **style)
        if text is not None:
            handles.append(line)
            texts.append(text)
    if grey:
        handles.append(Line2D([], [], lw=0.9, color="#b0b0b0"))
        texts.append(f"{plural(len(grey), 'other score')}, grey: {', '.join(grey)} (see the table)")
    axes[0].set(xlabel="coverage: share of images kept, most confident first (%)",
                ylabel="risk: error rate of the kept images (%)",
                title="Risk vs coverage (lower is better)")
    axes[1].plot([0, 100], [0, 100], ls=":", color="grey")
    axes[1].set(xlabel="false-alarm rate: correct predictions flagged (%)",
                ylabel="errors flagged (%)", title="ROC of error detection (higher is better)")
    ax = axes[2]
    if calibration is not None:
        centres, accuracy, n_bins, ece = calibration
        ax.bar(centres, accuracy, width=100 / n_bins, edgecolor="black", color="#6baed6")
        ax.plot([0, 100], [0, 100], ls="--", color="grey")
        ax.set(xlim=(0, 100), ylim=(0, 100), xlabel="confidence: top-1 probability (%)",
               ylabel="accuracy of the images in the bin (%)",
               title=f"Reliability (ECE {ece:.1f}%)\nbars: accuracy per bin; dashed: calibrated")
    else:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title("Reliability")
        ax.text(0.5, 0.5, textwrap.fill(f"No reliability diagram: the store holds no probabilities "
                                        f"for {name} (top-1 answers only), so there is no confidence "
                                        "to compare with accuracy.", 34),
                transform=ax.transAxes, ha="center", va="center", fontsize=10, color="#555555")
    fig.legend(handles, texts, loc="outside lower center", ncol=min(len(texts), 4), fontsize=9,
               frameon=False, title="failure score (AUROC of error detection on the held-out images)",
               title_fontsize=9)
    fig.suptitle(f"{name}: failure scores judged on {count(n_images)} held-out images, "
                 f"{plural(n_errors, 'error')}")
    return fig


