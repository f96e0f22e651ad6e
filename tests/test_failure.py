import json

import numpy as np
import pytest
from _reference import brute_force_aurc, n_orders_within_ties
from helpers import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

from misclass.analysis.failure import analyze_failures, reject_rule
from misclass.analysis.failure_scores import SCORES, ScoreInputs, compute_scores
from misclass.analysis.image_stats import image_statistics
from misclass.analysis.selective import (
    aurc,
    calibration,
    detection_metrics,
    fpr_at_tpr,
    optimal_aurc,
    risk_coverage,
    selective_accuracy,
)


def test_hand_computed_metrics():
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.5])
    errors = np.array([False, False, True, True, False])
    # order by score: .1 (ok) .35 (err) .4 (ok) .5 (ok) .8 (err)
    # risks: 0/1, 1/2, 1/3, 1/4, 2/5
    assert aurc(scores, errors) == pytest.approx((0 + 1 / 2 + 1 / 3 + 1 / 4 + 2 / 5) / 5)
    # optimal: 3 correct first: 0, 0, 0, 1/4, 2/5
    assert optimal_aurc(errors) == pytest.approx((1 / 4 + 2 / 5) / 5)
    m = detection_metrics(scores, errors)
    assert m.eaurc == pytest.approx(m.aurc - (1 / 4 + 2 / 5) / 5)
    # to flag both errors the threshold must reach .35, which flags .4 and .5 too: FPR 2/3
    assert m.fpr95 == pytest.approx(2 / 3)
    assert selective_accuracy(scores, errors, 0.6) == pytest.approx(2 / 3)


def test_ties_take_the_expectation_over_orders():
    # three tied images, one error: expected risk after k of them is 1/3 at every k
    cov, risk = risk_coverage(np.zeros(3), np.array([True, False, False]))
    assert risk.tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3])
    # a constant score cannot rank: AUROC 0.5
    assert detection_metrics(np.zeros(4), np.array([1, 0, 0, 1], bool)).auroc == 0.5


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.booleans()), min_size=3, max_size=60))
def test_against_sklearn(pairs):
    s = np.array([p[0] for p in pairs], dtype=float)
    e = np.array([p[1] for p in pairs])
    m = detection_metrics(s, e)
    if e.all() or not e.any():
        assert m.auroc is None and m.undefined
        return
    assert m.auroc == pytest.approx(roc_auc_score(e, s))
    assert m.aupr_error == pytest.approx(average_precision_score(e, s))
    assert 0 <= m.fpr95 <= 1 and m.eaurc >= -1e-12
    # FPR at 95% TPR by brute force over thresholds
    best = min((~e & (s >= t)).sum() / (~e).sum() for t in np.unique(s)
               if (e & (s >= t)).sum() >= 0.95 * e.sum())
    assert fpr_at_tpr(s, e) == pytest.approx(best)
    # AURC against the brute-force mean over every order of the tied images, where few enough
    if n_orders_within_ties(s) <= 5000:
        assert m.aurc == pytest.approx(brute_force_aurc(s, e), rel=1e-12, abs=1e-15)


def test_model_without_errors_is_reported_not_crashed():
    m = detection_metrics(np.array([0.1, 0.2, 0.3]), np.zeros(3, bool))
    assert m.auroc is None and m.aupr_error is None and m.fpr95 is None
    assert m.undefined.startswith("no errors") and m.aurc == 0 and m.eaurc == 0


def test_ece_hand_computed():
    cal = calibration(np.array([0.95, 0.95, 0.55, 0.55, 0.55]), np.array([1, 0, 1, 1, 0]), bins=10)
    # bin (0.9,1]: acc .5 conf .95 weight 2/5; bin (0.5,0.6]: acc 2/3 conf .55 weight 3/5
    assert cal.ece == pytest.approx(0.45 * 2 / 5 + abs(2 / 3 - 0.55) * 3 / 5)
    assert cal.bin_count.sum() == 5


def test_scores_hand_computed():
    probs = np.array([[0.7, 0.2, 0.1], [0.4, 0.4, 0.2]])
    x = ScoreInputs(top1=np.array([0, 1]), labels=np.array([0, 0]), probs=probs,
                    other_top1=np.array([[0, 1], [0, 0]]))
    values, skipped = compute_scores(x, np.arange(2), np.arange(2))
    assert values["msp"].tolist() == pytest.approx([0.3, 0.6])
    assert values["margin"].tolist() == pytest.approx([0.5, 1.0])
    assert values["gini"].tolist() == pytest.approx([1 - 0.54, 1 - 0.36])
    assert values["doctor"].tolist() == pytest.approx([0.46 / 0.54, 0.64 / 0.36])
    ent = -(probs * np.log(probs)).sum(axis=1)
    assert values["entropy"].tolist() == pytest.approx(ent.tolist())
    assert values["disagreement"].tolist() == [0.5, 1.0]
    # class error rate: predicted 0 once (right), predicted 1 once (wrong): (0+1)/(1+2), (1+1)/(1+2)
    assert values["class_error_rate"].tolist() == pytest.approx([1 / 3, 2 / 3])
    assert "energy" in skipped and "knn_distance" in skipped


def test_feature_scores():
    feats = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [0.7, 0.7]])
    x = ScoreInputs(top1=np.array([0, 0, 1, 1, 0]), labels=np.array([0, 0, 1, 1, 1]), features=feats)
    values, _ = compute_scores(x, np.arange(4), np.array([4]), ["prototype_cosine", "knn_distance"])
    unit = feats[:2] / np.linalg.norm(feats[:2], axis=1, keepdims=True)
    proto = unit.mean(0) / np.linalg.norm(unit.mean(0))  # mean of the unit-length class features
    assert values["prototype_cosine"][0] == pytest.approx(1 - proto @ (feats[4] / np.linalg.norm(feats[4])))
    sims = [feats[i] @ feats[4] / np.linalg.norm(feats[i]) / np.linalg.norm(feats[4]) for i in (0, 1)]
    assert values["knn_distance"][0] == pytest.approx(1 - min(sims))  # k = 2 members: the 2nd nearest
    assert set(SCORES) >= {"mahalanobis", "energy", "mc_mutual_info"}


def test_learned_predictor_never_sees_test_images():
    rng = np.random.default_rng(0)
    n = 400
    labels = rng.integers(0, 3, n)
    p = rng.dirichlet(np.ones(3), n)
    top1 = p.argmax(1)
    x = ScoreInputs(top1=top1, labels=labels, probs=p, topk_probs=np.sort(p, 1)[:, ::-1])
    res = analyze_failures("m", x, image_features=None, seed=1)
    assert len(np.intersect1d(res.calibration_index, res.test_index)) == 0
    assert len(res.calibration_index) + len(res.test_index) == n
    assert res.to_dict()["split"] == {"calibration": 200, "test": 200}
    assert res.learned is not None and 0 <= res.learned.auroc <= 1


def test_reject_rule_uses_calibration_threshold():
    s = np.array([0.1, 0.2, 0.3, 0.4, 0.15, 0.25, 0.35, 0.9])
    e = np.array([0, 0, 0, 1, 0, 0, 1, 1], dtype=bool)
    r = reject_rule("msp", s, e, np.arange(4), np.arange(4, 8), 0.5)
    assert r.threshold == 0.2 and r.rejected.tolist() == [2, 3, 5, 6, 7]
    assert r.test_coverage == 0.25 and r.test_accuracy_kept == 1.0


def test_image_statistics():
    img = np.zeros((1, 8, 8, 3), dtype=np.uint8)
    img[0, :, 4:] = [255, 0, 0]
    st_ = image_statistics(img).iloc[0]
    assert st_.brightness == pytest.approx(0.299 / 2)
    assert st_.colourfulness > 0 and st_.edge_density > 0 and st_.sharpness > 0


def test_cli_failure_and_reject(demo_dirs, tmp_path, capsys):
    store, report = demo_dirs
    code, out, err = run_cli(["failure", "--store", store, "--model", "mlp", "--coverage", 0.9,
                              "--rejected", tmp_path / "rej.txt", "--json", tmp_path / "f.json"], capsys)
    assert code == 0, err
    data = json.loads((tmp_path / "f.json").read_text())["models"]["mlp"]
    assert data["split"] == {"calibration": 180, "test": 180}
    assert set(data["scores"]["msp"]) >= {"auroc", "aupr_error", "fpr95", "aurc", "eaurc"}
    rejected = (tmp_path / "rej.txt").read_text().split()
    assert len(rejected) == data["reject"]["n_rejected"] > 0
    assert all(r.startswith("digits-") for r in rejected)
    assert "Which images will fail" in (report / "index.html").read_text()
    code, _, err = run_cli(["failure", "--store", store, "--coverage", 0.9, "--score",
                            "knn_distance"], capsys)
    assert code == 2 and "the reject option takes one of" in err


def _confident_logits(n=3000, c=10, seed=0):
    """Logits whose top-1 leads by up to 40 (many rows beyond float16's and float32's
    resolution of a probability near 1), with errors likelier where the lead is small."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1, (n, c))
    lead = rng.uniform(0, 30, n)
    top1 = rng.integers(0, c, n)
    z[np.arange(n), top1] += lead
    wrong = rng.random(n) < 0.6 * np.exp(-lead / 6)
    labels = np.where(wrong, (top1 + 1 + rng.integers(0, c - 1, n)) % c, top1)
    return z.astype(np.float32), top1, labels


def test_scores_from_float64_logits_equal_a_float64_reference_and_ties_matter():
    from scipy.special import softmax
    from scipy.stats import rankdata

    z, top1, labels = _confident_logits()
    errors = top1 != labels
    ref_p = softmax(z.astype(np.float64), axis=1)
    ref_msp = 1 - ref_p.max(1)
    ref_top2 = -np.sort(-ref_p, axis=1)[:, :2]
    refs = {"msp": ref_msp, "margin": 1 - (ref_top2[:, 0] - ref_top2[:, 1]),
            "gini": 1 - (ref_p ** 2).sum(1)}
    assert len(np.unique(ref_msp)) > 0.97 * len(z)  # float64 resolves (almost) every image
    p32 = softmax(z, axis=1).astype(np.float32)  # what the engine stores beside the logits
    topk = -np.sort(-p32, axis=1)[:, :5]
    everything = ScoreInputs(top1=top1, labels=labels, probs=p32, topk_probs=topk, logits=z)
    assert everything.probability_source() == "logits (float64 softmax)"
    idx = np.arange(len(z))
    values, _ = compute_scores(everything, idx, idx, ["msp", "margin", "entropy", "gini", "doctor", "energy"])
    for name, ref in refs.items():
        assert np.array_equal(rankdata(values[name]), rankdata(ref)), name
        assert detection_metrics(values[name], errors).auroc == pytest.approx(
            roc_auc_score(errors, ref), abs=1e-12), name
    assert np.allclose(values["msp"], ref_msp, rtol=0, atol=1e-15)
    # doctor ranks as gini; entropy (no clipping) separates the confident images too
    assert np.array_equal(rankdata(values["doctor"]), rankdata(values["gini"]))
    assert len(np.unique(values["entropy"])) > 0.97 * len(z)
    # without logits: float32 and float16 probabilities tie the confident images and rank worse
    auroc64 = roc_auc_score(errors, ref_msp)
    for probs, share, loss in ((p32, 0.3, 0.003), (p32.astype(np.float16), 0.6, 0.015)):
        stored = ScoreInputs(top1=top1, labels=labels, probs=probs)
        msp = compute_scores(stored, idx, idx, ["msp"])[0]["msp"]
        assert (msp == 0).mean() > share  # maximum probability exactly 1.0
        assert roc_auc_score(errors, msp) < auroc64 - loss
    # MC-dropout probabilities are a mean over passes: the scores read them, not the logits
    mc = ScoreInputs(top1=top1, labels=labels, probs=p32, logits=z, probs_from_logits=False)
    assert mc.probability_source() == "full probabilities (float32)"
    assert np.array_equal(compute_scores(mc, idx, idx, ["msp"])[0]["msp"], 1 - p32.max(1).astype(np.float64))
