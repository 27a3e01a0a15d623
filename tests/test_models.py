"""Models: torchvision-compatible ResNet, spatial attention (Eq. 1–3), temporal attention (Eq. 4–6), streams."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tclsta.models.attention import SpatialAttention, TemporalAttention, normalise_map, temporal_weights, weighted_pool
from tclsta.models.resnet import ResNet, cross_modality_conv1, load_pretrained
from tclsta.models.stream import AttentionStream, stream_loss

# torchvision's resnet50 state_dict, written out: "<module> <weight shape>" for convolutions and
# fc (fc also has a bias), "<module> bn<C>" for BatchNorm2d (weight, bias, running_mean,
# running_var of shape (C,), num_batches_tracked of shape ()).
TORCHVISION_RESNET50 = """
conv1 64x3x7x7
bn1 bn64
layer1.0.conv1 64x64x1x1
layer1.0.bn1 bn64
layer1.0.conv2 64x64x3x3
layer1.0.bn2 bn64
layer1.0.conv3 256x64x1x1
layer1.0.bn3 bn256
layer1.0.downsample.0 256x64x1x1
layer1.0.downsample.1 bn256
layer1.1.conv1 64x256x1x1
layer1.1.bn1 bn64
layer1.1.conv2 64x64x3x3
layer1.1.bn2 bn64
layer1.1.conv3 256x64x1x1
layer1.1.bn3 bn256
layer1.2.conv1 64x256x1x1
layer1.2.bn1 bn64
layer1.2.conv2 64x64x3x3
layer1.2.bn2 bn64
layer1.2.conv3 256x64x1x1
layer1.2.bn3 bn256
layer2.0.conv1 128x256x1x1
layer2.0.bn1 bn128
layer2.0.conv2 128x128x3x3
layer2.0.bn2 bn128
layer2.0.conv3 512x128x1x1
layer2.0.bn3 bn512
layer2.0.downsample.0 512x256x1x1
layer2.0.downsample.1 bn512
layer2.1.conv1 128x512x1x1
layer2.1.bn1 bn128
layer2.1.conv2 128x128x3x3
layer2.1.bn2 bn128
layer2.1.conv3 512x128x1x1
layer2.1.bn3 bn512
layer2.2.conv1 128x512x1x1
layer2.2.bn1 bn128
layer2.2.conv2 128x128x3x3
layer2.2.bn2 bn128
layer2.2.conv3 512x128x1x1
layer2.2.bn3 bn512
layer2.3.conv1 128x512x1x1
layer2.3.bn1 bn128
layer2.3.conv2 128x128x3x3
layer2.3.bn2 bn128
layer2.3.conv3 512x128x1x1
layer2.3.bn3 bn512
layer3.0.conv1 256x512x1x1
layer3.0.bn1 bn256
layer3.0.conv2 256x256x3x3
layer3.0.bn2 bn256
layer3.0.conv3 1024x256x1x1
layer3.0.bn3 bn1024
layer3.0.downsample.0 1024x512x1x1
layer3.0.downsample.1 bn1024
layer3.1.conv1 256x1024x1x1
layer3.1.bn1 bn256
layer3.1.conv2 256x256x3x3
layer3.1.bn2 bn256
layer3.1.conv3 1024x256x1x1
layer3.1.bn3 bn1024
layer3.2.conv1 256x1024x1x1
layer3.2.bn1 bn256
layer3.2.conv2 256x256x3x3
layer3.2.bn2 bn256
layer3.2.conv3 1024x256x1x1
layer3.2.bn3 bn1024
layer3.3.conv1 256x1024x1x1
layer3.3.bn1 bn256
layer3.3.conv2 256x256x3x3
layer3.3.bn2 bn256
layer3.3.conv3 1024x256x1x1
layer3.3.bn3 bn1024
layer3.4.conv1 256x1024x1x1
layer3.4.bn1 bn256
layer3.4.conv2 256x256x3x3
layer3.4.bn2 bn256
layer3.4.conv3 1024x256x1x1
layer3.4.bn3 bn1024
layer3.5.conv1 256x1024x1x1
layer3.5.bn1 bn256
layer3.5.conv2 256x256x3x3
layer3.5.bn2 bn256
layer3.5.conv3 1024x256x1x1
layer3.5.bn3 bn1024
layer4.0.conv1 512x1024x1x1
layer4.0.bn1 bn512
layer4.0.conv2 512x512x3x3
layer4.0.bn2 bn512
layer4.0.conv3 2048x512x1x1
layer4.0.bn3 bn2048
layer4.0.downsample.0 2048x1024x1x1
layer4.0.downsample.1 bn2048
layer4.1.conv1 512x2048x1x1
layer4.1.bn1 bn512
layer4.1.conv2 512x512x3x3
layer4.1.bn2 bn512
layer4.1.conv3 2048x512x1x1
layer4.1.bn3 bn2048
layer4.2.conv1 512x2048x1x1
layer4.2.bn1 bn512
layer4.2.conv2 512x512x3x3
layer4.2.bn2 bn512
layer4.2.conv3 2048x512x1x1
layer4.2.bn3 bn2048
fc 1000x2048
"""
RESNET50_PARAMETERS = 25_557_032  # torchvision.models.resnet50().parameters(), summed


def expected_resnet50() -> dict[str, tuple[int, ...]]:
    """Key → shape of torchvision's resnet50 state_dict, expanded from the table above."""
    keys: dict[str, tuple[int, ...]] = {}
    for line in TORCHVISION_RESNET50.split("\n"):
        if not line:
            continue
        name, shape = line.split()
        if shape.startswith("bn"):
            c = int(shape[2:])
            for part in ("weight", "bias", "running_mean", "running_var"):
                keys[f"{name}.{part}"] = (c,)
            keys[f"{name}.num_batches_tracked"] = ()
        else:
            dims = tuple(int(d) for d in shape.split("x"))
            keys[f"{name}.weight"] = dims
            if name == "fc":
                keys["fc.bias"] = (dims[0],)
    return keys


def test_resnet50_keys_and_shapes_match_torchvision():
    model = ResNet(depth=50, base_width=64, num_classes=1000)
    expected = expected_resnet50()
    state = model.state_dict()
    assert len(expected) == 320
    assert list(state) == list(expected)
    assert {k: tuple(v.shape) for k, v in state.items()} == expected
    assert sum(p.numel() for p in model.parameters()) == RESNET50_PARAMETERS
    assert model.forward_features(torch.zeros(1, 3, 224, 224)).shape == (1, 2048, 7, 7)


def test_random_torchvision_state_dict_loads_strictly(tmp_path):
    generator = torch.Generator().manual_seed(0)
    state = {k: torch.randn(shape, generator=generator) if shape else torch.tensor(0)
             for k, shape in expected_resnet50().items()}
    model = ResNet(depth=50)
    model.load_state_dict(state, strict=True)
    # An old checkpoint without num_batches_tracked loads through load_pretrained.
    old = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    torch.save(old, tmp_path / "old.pth")
    fresh = ResNet(depth=50)
    load_pretrained(fresh, tmp_path / "old.pth")
    assert torch.equal(fresh.layer3[4].conv2.weight,
                       state["layer3.4.conv2.weight"])


@pytest.mark.parametrize("depth,blocks", [(18, 2), (34, 3), (101, 3), (152, 3)])
def test_other_depths_build_with_torchvision_names(depth, blocks):
    model = ResNet(depth=depth, base_width=4, num_classes=5)
    names = model.state_dict()
    assert f"layer1.{blocks - 1}.conv2.weight" in names
    assert "layer2.0.downsample.0.weight" in names and "fc.bias" in names
    expansion = 1 if depth < 50 else 4
    assert model.num_features == 32 * expansion
    assert model(torch.zeros(2, 3, 64, 64)).shape == (2, 5)


def test_cross_modality_conv1_is_replicated_mean(tmp_path):
    torch.manual_seed(0)
    rgb = ResNet(depth=18, base_width=8, num_classes=7)
    torch.save(rgb.state_dict(), tmp_path / "rgb.pth")
    flow = ResNet(depth=18, base_width=8, in_channels=20, num_classes=3)
    load_pretrained(flow, tmp_path / "rgb.pth")
    weight = rgb.conv1.weight.detach()
    mean = (weight[:, 0] + weight[:, 1] + weight[:, 2]) / 3
    assert flow.conv1.weight.shape == (8, 20, 7, 7)
    for channel in range(20):
        torch.testing.assert_close(flow.conv1.weight[:, channel], mean)
    torch.testing.assert_close(cross_modality_conv1(weight, 20), flow.conv1.weight.detach())
    assert torch.equal(flow.layer2[0].conv1.weight, rgb.layer2[0].conv1.weight)
    assert flow.fc.weight.shape == (3, 64)  # another class count keeps its own head


def test_uniform_map_weighted_pooling_is_gap():
    conv5 = torch.randn(3, 16, 7, 7)
    uniform = normalise_map(torch.zeros(3, 7, 7))
    assert torch.equal(uniform, torch.ones(3, 7, 7))
    torch.testing.assert_close(weighted_pool(conv5, uniform), conv5.mean(dim=(2, 3)))


def test_normalised_map_is_eq3_and_sums_to_g():
    m = torch.randn(4, 5, 6, dtype=torch.float64) * 3
    m_tilde = normalise_map(m)
    e = np.exp(m.numpy())
    reference = 30 * e / e.sum(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(m_tilde.numpy(), reference, rtol=1e-6)
    np.testing.assert_allclose(m_tilde.sum(dim=(1, 2)).numpy(), 30.0, rtol=1e-6)
    # Weighted pooling = Σ softmax(m) · conv5.
    conv5 = torch.randn(4, 3, 5, 6, dtype=torch.float64)
    softmax = e / e.sum(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(weighted_pool(conv5, m_tilde).numpy(),
                               np.einsum("nkhw,nhw->nk", conv5.numpy(), softmax), rtol=1e-6)


def test_spatial_attention_map_is_cam_of_predicted_class():
    torch.manual_seed(1)
    branch = SpatialAttention(in_channels=8, cam_channels=6, num_classes=5).double()
    conv5 = torch.randn(3, 8, 4, 4, dtype=torch.float64)
    logits, m_tilde = branch(conv5)
    a = torch.relu(branch.cam_conv(conv5)).detach().numpy()
    w, b = branch.fc.weight.detach().numpy(), branch.fc.bias.detach().numpy()
    cam = np.einsum("ck,nkhw->nchw", w, a)  # Eq. 2 for every class
    # Eq. 1 with GAP: s_c = (1/g) Σ_xy m_c(x, y) + bias.
    np.testing.assert_allclose(logits.detach().numpy(), cam.mean(axis=(2, 3)) + b, rtol=1e-6)
    predicted = logits.argmax(dim=1).numpy()
    m = cam[np.arange(3), predicted]
    e = np.exp(m)
    np.testing.assert_allclose(m_tilde.detach().numpy(), 16 * e / e.sum(axis=(1, 2), keepdims=True), rtol=1e-6)


def numpy_temporal_weights(h: np.ndarray) -> np.ndarray:
    """Eq. 4–5 and softmax(γ), for one video: h is (T, n) — the columns of H."""
    big_h = h.T  # H ∈ R^{n×T}
    c = np.tanh(big_h.T @ big_h)  # Eq. 4
    gamma = np.ones(len(c)) @ c  # Eq. 5: column sums
    e = np.exp(gamma - gamma.max())
    return e / e.sum()


def test_temporal_attention_eq4_to_6_against_numpy():
    torch.manual_seed(2)
    h = torch.randn(2, 5, 3, dtype=torch.float64) * 0.7
    weights = temporal_weights(h)
    for b in range(2):
        np.testing.assert_allclose(weights[b].numpy(), numpy_temporal_weights(h[b].numpy()), rtol=1e-6)

    branch = TemporalAttention(in_features=4, hidden=3, num_classes=6).double()
    alpha = torch.randn(2, 5, 4, dtype=torch.float64)
    logits, weights = branch(alpha)
    hidden, _ = branch.lstm(alpha)
    for b in range(2):
        hb = hidden[b].detach().numpy()
        wb = numpy_temporal_weights(hb)
        np.testing.assert_allclose(weights[b].detach().numpy(), wb, rtol=1e-6)
        pooled = (wb[:, None] * hb).sum(axis=0)
        expected = branch.fc.weight.detach().numpy() @ pooled + branch.fc.bias.detach().numpy()
        np.testing.assert_allclose(logits[b].detach().numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("attention,heads", [
    ("none", ("frame",)), ("spatial", ("frame", "spatial")),
    ("temporal", ("frame", "temporal")), ("both", ("frame", "spatial", "temporal")),
])
def test_stream_heads_and_shapes(attention, heads):
    torch.manual_seed(3)
    model = AttentionStream(num_classes=4, attention=attention, depth=18, base_width=4, in_channels=6,
                            cam_channels=8, lstm_hidden=5).double()
    x = torch.randn(2, 3, 6, 64, 64, dtype=torch.float64)
    out = model(x)
    assert model.heads == heads == tuple(out.logits)
    assert out.features.shape == (2, 3, 32)
    torch.testing.assert_close(out.temporal_weights.sum(dim=1).double(), torch.ones(2, dtype=torch.float64))
    assert (out.spatial_maps is not None) == (attention in ("spatial", "both"))
    if attention in ("none", "temporal"):  # plain GAP features
        conv5 = model.backbone.forward_features(x.flatten(0, 1))
        torch.testing.assert_close(out.features.flatten(0, 1), conv5.mean(dim=(2, 3)))
    if attention in ("none", "spatial"):
        assert torch.all(out.temporal_weights == 1 / 3)
    # Eq. 6: β_t = α_t · softmax(γ)_t.
    torch.testing.assert_close(out.attended(), out.features * out.temporal_weights.unsqueeze(-1))
    # The loss is the weighted sum of the heads' cross-entropies; per-frame heads use the mean of their
    # frames' logits (segmental consensus).
    labels = [1, 3]
    weights = {"frame": 1.0, "spatial": 0.5, "temporal": 2.0}
    expected = 0.0
    for head, logits in out.logits.items():
        z = logits.detach().numpy()
        z = z.mean(axis=1) if z.ndim == 3 else z
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        expected += weights[head] * -np.mean([log_p[b, labels[b]] for b in range(2)])
        np.testing.assert_allclose(out.probabilities()[head].detach().numpy(), np.exp(log_p), rtol=1e-5)
    labels = torch.tensor(labels)
    assert stream_loss(out, labels, weights).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("depth", [18, 50])
def test_output_stride_trades_stride_for_dilation_with_the_same_weights(depth):
    torch.manual_seed(4)
    coarse = ResNet(depth=depth, base_width=4, num_classes=3)
    x = torch.randn(1, 3, 64, 64)
    assert coarse.forward_features(x).shape[-2:] == (2, 2)
    for stride, grid in ((16, 4), (8, 8), (4, 16)):
        fine = ResNet(depth=depth, base_width=4, num_classes=3, output_stride=stride)
        fine.load_state_dict(coarse.state_dict(), strict=True)  # same names and shapes: ImageNet weights load
        assert fine.forward_features(x).shape[-2:] == (grid, grid)
    fine = ResNet(depth=depth, base_width=4, num_classes=3, output_stride=8)
    conv = fine.layer4[1].conv1 if depth == 18 else fine.layer4[1].conv2
    assert conv.dilation == (4, 4) and conv.padding == (4, 4) and conv.stride == (1, 1)
    first = fine.layer3[0].conv1 if depth == 18 else fine.layer3[0].conv2
    assert first.stride == (1, 1) and first.dilation == (1, 1)  # the stage's first conv keeps the old dilation
    finest = ResNet(depth=depth, base_width=4, num_classes=3, output_stride=4)
    conv = finest.layer2[1].conv1 if depth == 18 else finest.layer2[1].conv2
    assert conv.dilation == (2, 2) and conv.stride == (1, 1)  # output stride 4 also dilates conv3_x
    assert (finest.layer4[1].conv1 if depth == 18 else finest.layer4[1].conv2).dilation == (8, 8)
    with pytest.raises(Exception, match="output_stride"):
        ResNet(depth=depth, output_stride=2)


@pytest.mark.parametrize("depth", [18, 50])
def test_max_dilation_caps_the_dilation_that_replaces_the_stride(depth):
    torch.manual_seed(4)
    plain = ResNet(depth=depth, base_width=4, num_classes=3, output_stride=8)
    capped = ResNet(depth=depth, base_width=4, num_classes=3, output_stride=8, max_dilation=2)
    capped.load_state_dict(plain.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    assert capped.forward_features(x).shape[-2:] == (8, 8)
    dilations = {name: m.dilation[0] for name, m in capped.named_modules() if isinstance(m, torch.nn.Conv2d)}
    assert max(dilations.values()) == 2
    assert dilations["layer3.1.conv1" if depth == 18 else "layer3.1.conv2"] == 2
    assert dilations["layer4.1.conv1" if depth == 18 else "layer4.1.conv2"] == 2
    # gridding: a capped conv5 feature depends on no cell 4 away (one impulse, one layer-4 conv)
    conv = capped.layer4[1].conv1 if depth == 18 else capped.layer4[1].conv2
    impulse = torch.zeros(1, conv.in_channels, 8, 8)
    impulse[0, :, 4, 4] = 1.0
    reached = conv(impulse).abs().sum(dim=(0, 1)) > 0
    assert reached[4, 4] and reached[2, 2] and not reached[0, 0] and not reached[4, 1]
    with pytest.raises(Exception, match="max_dilation"):
        ResNet(depth=depth, output_stride=8, max_dilation=0)


def test_frame_scorer_variant_scores_each_frame_by_its_own_feature():
    torch.manual_seed(5)
    branch = TemporalAttention(in_features=4, hidden=3, num_classes=6, scoring="frame").double()
    alpha = torch.randn(2, 5, 4, dtype=torch.float64)
    logits, weights = branch(alpha)
    w, b = branch.scorer.project.weight.detach().numpy(), branch.scorer.project.bias.detach().numpy()
    v = branch.scorer.score.weight.detach().numpy()[0]
    hidden, _ = branch.lstm(alpha)
    for k in range(2):
        gamma = np.tanh(alpha[k].numpy() @ w.T + b) @ v
        expected = np.exp(gamma - gamma.max()) / np.exp(gamma - gamma.max()).sum()
        np.testing.assert_allclose(weights[k].detach().numpy(), expected, rtol=1e-6)
        pooled = (expected[:, None] * hidden[k].detach().numpy()).sum(axis=0)
        np.testing.assert_allclose(logits[k].detach().numpy(),
                                   branch.fc.weight.detach().numpy() @ pooled + branch.fc.bias.detach().numpy(),
                                   rtol=1e-6)
    # A frame's weight depends on what it shows, not where it is: reversing the frames reverses the weights.
    _, reversed_weights = branch(alpha.flip(1))
    torch.testing.assert_close(reversed_weights, weights.flip(1))
    with pytest.raises(ValueError, match="temporal attention"):
        TemporalAttention(in_features=4, hidden=3, num_classes=6, scoring="bidirectional")


def test_detached_spatial_map_is_trained_by_the_cam_loss_only():
    torch.manual_seed(6)
    kwargs = dict(num_classes=4, attention="both", depth=18, base_width=4, cam_channels=8, lstm_hidden=5)
    joint = AttentionStream(**kwargs).double()
    detached = AttentionStream(**kwargs, detach_spatial_map=True).double()
    detached.load_state_dict(joint.state_dict())
    x = torch.randn(2, 3, 3, 64, 64, dtype=torch.float64)
    out_joint, out_detached = joint(x), detached(x)
    for head in ("frame", "spatial", "temporal"):  # the same forward pass
        torch.testing.assert_close(out_detached.logits[head], out_joint.logits[head])
    cam_params = list(joint.spatial.parameters()), list(detached.spatial.parameters())
    for head in ("frame", "temporal"):
        joint_grads = torch.autograd.grad(out_joint.logits[head].sum(), cam_params[0], retain_graph=True,
                                          allow_unused=True)
        detached_grads = torch.autograd.grad(out_detached.logits[head].sum(), cam_params[1], retain_graph=True,
                                             allow_unused=True)
        # Joint: the head's loss reaches CAM_conv through m̃ and the weighted pooling; detached: it does not.
        assert joint_grads[0].abs().sum() > 0 and joint.spatial.cam_conv.weight is cam_params[0][0]
        assert all(g is None or torch.count_nonzero(g) == 0 for g in detached_grads)
    # The CAM head's own loss trains the branch the same way in both.
    for a, b in zip(torch.autograd.grad(out_joint.logits["spatial"].sum(), cam_params[0]),
                    torch.autograd.grad(out_detached.logits["spatial"].sum(), cam_params[1])):
        torch.testing.assert_close(a, b)
