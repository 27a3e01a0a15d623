"""Collaborative learning network: Eq. 7–9 / Algorithm 1 against numpy, alternating training, train-cln."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cache_factory import CLASS_NAMES, make_pair, write_manifest

from tclsta.config import validate
from tclsta.errors import DatasetError
from tclsta.fusion.cln_training import (
    make_optimisers,
    run_train_cln,
    side_for,
    training_step,
)
from tclsta.fusion.scores import read_score_set
from tclsta.models.cln import CollaborativeLearningNetwork


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def _numpy_algorithm1(model: CollaborativeLearningNetwork, vs: np.ndarray, vm: np.ndarray, rounds: int):
    """Algorithm 1 written out for one video with the paper's column-vector notation (V is D × N)."""
    p = {k: v.detach().double().numpy() for k, v in model.state_dict().items()}
    Vs, Vm = vs.T, vm.T  # D × N
    n = Vs.shape[1]
    z_s = np.full(n, 1.0 / n)  # line 1: uniform start
    for _ in range(rounds):
        O_s = Vs @ z_s  # line 3
        H = np.tanh(p["motion_attention.features.weight"] @ Vm
                    + np.outer(p["motion_attention.guide.weight"] @ O_s, np.ones(n)))  # Eq. 7
        z_m = _softmax(p["motion_attention.score.weight"] @ H).ravel()  # Eq. 8
        O_m = Vm @ z_m  # Eq. 9
        H_s = np.tanh(p["static_attention.features.weight"] @ Vs
                      + np.outer(p["static_attention.guide.weight"] @ O_m, np.ones(n)))
        z_s = _softmax(p["static_attention.score.weight"] @ H_s).ravel()  # line 6
    O_s = Vs @ z_s  # line 8
    logits_s = p["static_head.weight"] @ O_s + p["static_head.bias"]
    logits_m = p["motion_head.weight"] @ O_m + p["motion_head.bias"]
    return z_s, z_m, O_s, O_m, logits_s, logits_m


@pytest.mark.parametrize("rounds", [1, 2, 3])
def test_forward_matches_numpy_equations(rounds: int) -> None:
    torch.manual_seed(0)
    model = CollaborativeLearningNetwork(static_dim=5, motion_dim=4, num_classes=3, hidden_dim=6, rounds=rounds).double()
    rng = np.random.default_rng(1)
    vs, vm = rng.normal(size=(2, 7, 5)), rng.normal(size=(2, 7, 4))
    out = model.forward_features(torch.from_numpy(vs), torch.from_numpy(vm))
    logits_s, logits_m = model(torch.from_numpy(vs), torch.from_numpy(vm))
    for b in range(2):
        z_s, z_m, O_s, O_m, ls, lm = _numpy_algorithm1(model, vs[b], vm[b], rounds)
        np.testing.assert_allclose(out["z_static"][b].detach().numpy(), z_s, rtol=1e-10)
        np.testing.assert_allclose(out["z_motion"][b].detach().numpy(), z_m, rtol=1e-10)
        np.testing.assert_allclose(out["o_static"][b].detach().numpy(), O_s, rtol=1e-10)
        np.testing.assert_allclose(out["o_motion"][b].detach().numpy(), O_m, rtol=1e-10)
        np.testing.assert_allclose(logits_s[b].detach().numpy(), ls, rtol=1e-10)
        np.testing.assert_allclose(logits_m[b].detach().numpy(), lm, rtol=1e-10)


def test_uniform_start_guides_first_motion_step() -> None:
    """Round 1's motion coefficients use O^s = mean of the static frames (z^s = 1/N)."""
    torch.manual_seed(0)
    model = CollaborativeLearningNetwork(static_dim=3, motion_dim=3, num_classes=2, hidden_dim=4, rounds=1).double()
    vs, vm = torch.randn(1, 5, 3, dtype=torch.float64), torch.randn(1, 5, 3, dtype=torch.float64)
    expected = model.motion_attention.coefficients(vm, vs.mean(dim=1), torch.ones(1, 5, dtype=torch.bool))
    torch.testing.assert_close(model.forward_features(vs, vm)["z_motion"], expected)


def test_padding_mask_equals_unpadded_video() -> None:
    torch.manual_seed(0)
    model = CollaborativeLearningNetwork(static_dim=4, motion_dim=4, num_classes=3, hidden_dim=5, rounds=2).double()
    vs, vm = torch.randn(1, 4, 4, dtype=torch.float64), torch.randn(1, 4, 4, dtype=torch.float64)
    pad = torch.zeros(1, 3, 4, dtype=torch.float64)
    mask = torch.tensor([[True] * 4 + [False] * 3])
    padded = model(torch.cat([vs, pad], 1), torch.cat([vm, pad + 5], 1), mask)
    plain = model(vs, vm)
    torch.testing.assert_close(padded[0], plain[0])
    torch.testing.assert_close(padded[1], plain[1])


@pytest.mark.parametrize("side", ["static", "motion"])
def test_alternating_step_freezes_the_other_side(side: str) -> None:
    torch.manual_seed(0)
    model = CollaborativeLearningNetwork(static_dim=6, motion_dim=6, num_classes=3, hidden_dim=4, rounds=2)
    optimisers = make_optimisers(model, lr=0.05, weight_decay=1e-4)
    other = "motion" if side == "static" else "static"
    before = {s: [p.detach().clone() for p in model.side_parameters(s)] for s in ("static", "motion")}
    vs, vm = torch.randn(8, 5, 6), torch.randn(8, 5, 6)
    labels = torch.randint(0, 3, (8,))
    training_step(model, optimisers[side], side, vs, vm, torch.ones(8, 5, dtype=torch.bool), labels)
    for old, new in zip(before[other], model.side_parameters(other)):
        assert torch.equal(old, new), f"{other} side changed during a {side} step"
    changed = [not torch.equal(old, new) for old, new in zip(before[side], model.side_parameters(side))]
    assert all(changed), f"some {side} parameters were not updated: {changed}"
    assert len(before["static"]) + len(before["motion"]) == len(list(model.parameters()))


def test_alternation_schedule() -> None:
    assert [side_for(s, 0, "step") for s in range(4)] == ["motion", "static", "motion", "static"]
    assert [side_for(s, e, "epoch") for s, e in [(0, 0), (1, 0), (2, 1), (3, 1), (4, 2)]] == [
        "motion", "motion", "static", "static", "motion"]


def test_fused_head_is_trained_every_step_and_sees_both_streams() -> None:
    torch.manual_seed(0)
    model = CollaborativeLearningNetwork(static_dim=6, motion_dim=5, num_classes=3, hidden_dim=4, fused_head=True)
    optimisers = make_optimisers(model, lr=0.05, weight_decay=0.0)
    before = [p.detach().clone() for p in model.fused_head.parameters()]
    vs, vm, labels = torch.randn(8, 5, 6), torch.randn(8, 5, 5), torch.randint(0, 3, (8,))
    training_step(model, optimisers["static"], "static", vs, vm, torch.ones(8, 5, dtype=torch.bool), labels,
                  optimisers["fused"])
    assert all(not torch.equal(a, b) for a, b in zip(before, model.fused_head.parameters()))
    logits = model.head_logits(vs, vm)
    assert set(logits) == {"static", "motion", "fused"} and model.fused_head.in_features == 11
    torch.testing.assert_close(model(vs, vm)[0], logits["static"])


@pytest.mark.parametrize("alternate, variant", [("step", "paper"), ("epoch", "heldout")])
def test_train_cln_on_real_caches(tmp_path, alternate: str, variant: str) -> None:
    static, motion = make_pair(tmp_path, train_per_class=10, test_per_class=4, holdout_fraction=0.2)
    manifest = write_manifest(tmp_path / "manifest.csv", static)
    config = validate({"device": "cpu", "cln": {"epochs": 40, "hidden_dim": 8, "batch_size": 8, "lr": 0.01,
                                                "alternate": alternate, "heldout": {"max_epochs": 40, "patience": 5}}})
    history = run_train_cln(static, motion, tmp_path / "cln.pt", tmp_path / "scores.h5", config, variant=variant,
                            manifest=manifest)
    assert history.loss[-1] < history.loss[0]
    scores = read_score_set(tmp_path / "scores.h5")
    assert scores.class_names == CLASS_NAMES
    assert scores.roles.count("test") == 16
    # two of the ten groups held out (whole groups, each with one video per class)
    assert scores.roles.count("holdout") == (8 if variant == "heldout" else 0)
    assert set(scores.scores) == ({"static", "motion", "fused"} if variant == "heldout" else {"static", "motion"})
    for stream in scores.scores:
        np.testing.assert_allclose(scores.scores[stream].sum(axis=1), 1.0, rtol=1e-5)
    test = scores.subset("test")
    fused = scores.stacked(test).mean(axis=1).argmax(axis=1)
    static_only = scores.scores["static"][test].argmax(axis=1)
    assert (fused == scores.labels[test]).mean() > (static_only == scores.labels[test]).mean()
    checkpoint = torch.load(tmp_path / "cln.pt", weights_only=True)
    model = CollaborativeLearningNetwork(**checkpoint["meta"])
    model.load_state_dict(checkpoint["state_dict"])
    assert len(checkpoint["fit_videos"]) == 40  # ours: refitted on every training video after early stopping
    if variant == "heldout":  # early stopping chose the epoch with the lowest held-out loss
        assert checkpoint["best_epoch"] == 1 + int(np.argmin(checkpoint["validation_history"]))
        assert checkpoint["refit"] and len(checkpoint["validation_videos"]) == 8


def test_held_out_videos_keep_the_scores_of_the_model_that_did_not_fit_them(tmp_path) -> None:
    static, motion = make_pair(tmp_path, train_per_class=10, test_per_class=4, holdout_fraction=0.2)
    manifest = write_manifest(tmp_path / "manifest.csv", static)
    scores = {}
    for refit in (False, True):
        config = validate({"device": "cpu", "cln": {"hidden_dim": 8, "batch_size": 8, "lr": 0.01,
                                                    "heldout": {"max_epochs": 20, "patience": 3, "refit": refit}}})
        run_train_cln(static, motion, tmp_path / f"c{refit}.pt", tmp_path / f"s{refit}.h5", config,
                      variant="heldout", manifest=manifest)
        scores[refit] = read_score_set(tmp_path / f"s{refit}.h5")
    held, test = scores[True].subset("holdout"), scores[True].subset("test")
    for head in ("static", "motion", "fused"):
        np.testing.assert_array_equal(scores[True].scores[head][held], scores[False].scores[head][held])
        assert not np.array_equal(scores[True].scores[head][test], scores[False].scores[head][test])


def test_held_out_cln_needs_held_out_groups(tmp_path) -> None:
    static, motion = make_pair(tmp_path, train_per_class=4, test_per_class=2, holdout_fraction=0.0)
    manifest = write_manifest(tmp_path / "manifest.csv", static)
    config = validate({"device": "cpu", "cln": {"epochs": 1, "hidden_dim": 4}})
    with pytest.raises(DatasetError, match="held out no training videos"):
        run_train_cln(static, motion, tmp_path / "c.pt", tmp_path / "s.h5", config, variant="heldout",
                      manifest=manifest)
