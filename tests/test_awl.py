"""Adaptively weighted learning: LP = closed-form vertex = brute-force grid; Eq. 14; weights CSV; baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tclsta.errors import ConfigError, DatasetError
from tclsta.fusion.awl import class_objective, fuse, predict, read_weights, solve_awl, solve_class, write_weights
from tclsta.fusion.solve import choose_epsilon, load_scores
from tclsta.fusion.baselines import LinearSVM, early_fusion, late_fusion


def _random_scores(rng: np.random.Generator, videos: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    logits = rng.normal(size=(videos, 2, classes)) * 2
    scores = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
    return scores, rng.integers(0, classes, size=videos)


def test_class_objective_is_eq13_written_out() -> None:
    rng = np.random.default_rng(0)
    scores, labels = _random_scores(rng, 30, 4)
    lam = 0.3
    for j in range(4):
        expected = np.zeros(2)
        for i in range(30):
            expected += scores[i, :, j] * (1.0 if labels[i] == j else -lam)
        np.testing.assert_allclose(class_objective(scores, labels, j, lam), expected)


@pytest.mark.parametrize("epsilon", [0.0, 0.05])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lp_equals_closed_form_vertex_and_brute_force_grid(seed: int, epsilon: float) -> None:
    rng = np.random.default_rng(seed)
    scores, labels = _random_scores(rng, 40, 5)
    lam = 5e-3 if seed != 2 else 0.5  # a large λ makes some objectives favour the weaker stream
    weights = solve_awl(scores, labels, lam, epsilon)
    grid = np.linspace(epsilon, 1 - epsilon, 2001)
    for j in range(5):
        c = class_objective(scores, labels, j, lam)
        vertex = np.full(2, epsilon)
        vertex[np.argmax(c)] = 1 - epsilon
        np.testing.assert_allclose(weights[j], vertex, atol=1e-9)
        values = grid * c[0] + (1 - grid) * c[1]
        best = grid[np.argmax(values)]
        np.testing.assert_allclose(weights[j], [best, 1 - best], atol=1e-9)
        assert weights[j] @ c >= values.max() - 1e-12
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    assert np.all(weights >= epsilon - 1e-12)


def test_lp_tie_gives_a_feasible_optimum() -> None:
    w = solve_class(np.array([1.0, 1.0]), 0.1)
    assert w.sum() == pytest.approx(1.0) and np.all(w >= 0.1 - 1e-12)


def test_prediction_rule_eq14() -> None:
    # two test videos, three classes
    scores = np.array([
        [[0.6, 0.3, 0.1], [0.1, 0.2, 0.7]],
        [[0.2, 0.5, 0.3], [0.4, 0.1, 0.5]],
    ])
    weights = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    # video 0: class 0 → 0.6, class 1 → 0.25, class 2 → 0.7 ; video 1: 0.2, 0.3, 0.5
    np.testing.assert_allclose(fuse(scores, weights), [[0.6, 0.25, 0.7], [0.2, 0.3, 0.5]])
    expected = [max(range(3), key=lambda j: weights[j] @ scores[t, :, j]) for t in range(2)]
    np.testing.assert_array_equal(predict(scores, weights), expected)
    np.testing.assert_array_equal(predict(scores, weights), [2, 2])


def test_weights_csv_roundtrip_and_class_check(tmp_path) -> None:
    names = ["Archery", "Smoke", "WalkingWithDog"]
    weights = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    write_weights(tmp_path / "w.csv", names, weights)
    assert (tmp_path / "w.csv").read_text().splitlines()[0] == "class_name,w_static,w_motion"
    read, streams = read_weights(tmp_path / "w.csv", names)
    np.testing.assert_array_equal(read, weights)
    assert streams == ["static", "motion"]
    with pytest.raises(DatasetError, match="w.csv"):
        read_weights(tmp_path / "w.csv", ["Archery", "Smoke", "Other"])
    three = np.array([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8], [1 / 3, 1 / 3, 1 / 3]])
    write_weights(tmp_path / "w3.csv", names, three, ("static", "motion", "fused"))
    read, streams = read_weights(tmp_path / "w3.csv", names)
    np.testing.assert_allclose(read, three)
    assert streams == ["static", "motion", "fused"]


def test_epsilon_chosen_by_leave_one_group_out() -> None:
    # 6 classes = 3 colours × 2 directions; static knows the colour (0.45 on both colour-mates),
    # motion the direction (0.3 on the three direction-mates). Late fusion (ε = 1/2) is always
    # right; at a vertex (ε = 0) each class column reads one stream, and no choice of streams
    # separates every colour pair and every direction triple, so some videos tie and are lost
    rng = np.random.default_rng(0)
    labels = np.tile(np.arange(6), 5)
    groups = np.repeat(np.arange(5), 6)
    colour, direction = np.arange(6) // 2, np.arange(6) % 2
    static = np.where(colour[labels][:, None] == colour[None, :], 0.45, 0.05)
    motion = np.where(direction[labels][:, None] == direction[None, :], 0.3, 0.03)
    stack = np.stack([static, motion], axis=1) + rng.normal(scale=1e-3, size=(30, 2, 6))
    epsilon, table = choose_epsilon(stack, labels, groups, 0.005, [0.0, 0.25])
    assert set(table) == {"0", "0.25", "0.5"}  # 1/S = late fusion is always tried
    assert table["0.5"] == max(table.values()) and epsilon == 0.5
    assert table["0"] < table["0.5"]


def test_late_fusion_is_the_mean() -> None:
    scores = np.array([[[0.6, 0.4], [0.2, 0.8]]])
    np.testing.assert_allclose(late_fusion(scores), [[0.4, 0.6]])


def test_linear_svm_reaches_the_optimum_and_separates() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 5)) * 4
    labels = np.repeat(np.arange(3), 20)
    x = centres[labels] + rng.normal(size=(60, 5))
    svm = LinearSVM(c=1.0).fit(x, labels, 3)
    assert (svm.decision_function(x).argmax(axis=1) == labels).mean() == 1.0
    # the gradient of the primal objective vanishes at the returned solution
    weight = torch.tensor(svm.weight, requires_grad=True)
    bias = torch.tensor(svm.bias, requires_grad=True)
    targets = -torch.ones(60, 3, dtype=torch.float64)
    targets[torch.arange(60), torch.as_tensor(labels)] = 1
    svm.objective(svm._standardise(x), targets, weight, bias).backward()
    assert weight.grad.abs().max() < 1e-5 and bias.grad.abs().max() < 1e-5
    test = centres[labels] + rng.normal(size=(60, 5))
    half = x.shape[1] // 2
    fused = early_fusion([x[:, :half], x[:, half:]], labels, [test[:, :half], test[:, half:]], 3)
    assert (fused.argmax(axis=1) == labels).mean() > 0.9


def test_stream_prediction_is_the_mean_of_its_heads(tmp_path) -> None:
    from cache_factory import make_pair

    from tclsta.features.cache import read_feature_cache
    from tclsta.fusion.scores import stream_probabilities

    for attention, heads in (("none", {"frame"}), ("both", {"frame", "spatial", "temporal"})):
        rgb, _ = make_pair(tmp_path, attention=attention)
        cache = read_feature_cache(rgb)
        assert set(cache.scores) == heads
        expected = sum(cache.scores[h].astype(np.float64) for h in heads) / len(heads)
        np.testing.assert_allclose(stream_probabilities(cache), expected)


@pytest.mark.parametrize("source", ["stream_heldout", "cln_heldout"])
def test_held_out_sources_without_manifest_name_the_option(source: str) -> None:
    """The held-out LPs choose ε over the videos' groups: without --manifest a clear error, not a TypeError."""
    with pytest.raises(ConfigError, match=f"--source {source} needs --manifest"):
        load_scores(source, cln_scores="scores.h5", static="rgb.h5", motion="flow.h5", manifest=None)
