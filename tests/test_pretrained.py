"""model.pretrained: imagenet / URL downloads from a real 127.0.0.1 server into the torch.hub cache, none, null."""

from __future__ import annotations

import logging
import socket

import pytest
import torch

from tclsta.errors import ConfigError, TclstaError
from tclsta.models.pretrained import (IMAGENET_FILES, TORCHVISION_URL, URL_ENV, cache_dir, hash_prefix,
                                      initialise_backbone, pretrained_source)
from tclsta.models.resnet import ResNet, cross_modality_conv1
from tclsta.models.stream import build_stream
from weights_server import hashed_name, serve, state_dict_bytes

SMALL = {"depth": 18, "base_width": 8, "flow_stack": 2, "cam_channels": 8, "lstm_hidden": 8}


@pytest.fixture(autouse=True)
def torch_home(tmp_path, monkeypatch):
    """Every test gets its own empty $TORCH_HOME."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.delenv(URL_ENV, raising=False)
    return tmp_path / "torch_home"


@pytest.fixture
def weights():
    """A generated ImageNet-like state_dict of the SMALL ResNet (1000 classes) and its bytes."""
    torch.manual_seed(3)
    state = ResNet(depth=18, base_width=8).state_dict()
    return state, state_dict_bytes(state)


def leftovers(torch_home):
    return sorted(p.name for p in torch_home.rglob("*") if p.is_file())


def test_cache_is_torch_hub_checkpoints(torch_home):
    assert cache_dir() == torch_home / "hub" / "checkpoints"
    assert hash_prefix("resnet50-0676ba61.pth") == "0676ba61"
    assert hash_prefix("my_weights.pth") is None


def test_imagenet_names_torchvision_file_or_the_override(monkeypatch):
    cfg = {"pretrained": "imagenet", "depth": 50, "base_width": 64}
    assert pretrained_source(cfg) == "https://download.pytorch.org/models/resnet50-0676ba61.pth"
    assert TORCHVISION_URL + IMAGENET_FILES[101] == pretrained_source({**cfg, "depth": 101})
    monkeypatch.setenv(URL_ENV, "http://mirror/resnet50-0676ba61.pth")
    assert pretrained_source(cfg) == "http://mirror/resnet50-0676ba61.pth"
    with pytest.raises(ConfigError, match="base_width=64"):
        pretrained_source({**cfg, "base_width": 8})


def test_download_once_then_cache_rgb_and_flow(weights, torch_home):
    state, data = weights
    with serve() as server:
        name = hashed_name("resnet18", data)
        server.files[name] = data
        cfg = {**SMALL, "pretrained": server.url + name}
        rgb = build_stream(cfg, "rgb", "both", num_classes=5)
        flow = build_stream(cfg, "flow", "both", num_classes=5)
        assert server.requests == [name]  # the second model came from the cache
    assert leftovers(torch_home) == [name]
    assert torch.equal(rgb.backbone.layer3[1].conv2.weight, state["layer3.1.conv2.weight"])
    assert torch.equal(rgb.backbone.conv1.weight, state["conv1.weight"])
    assert torch.equal(flow.backbone.conv1.weight, cross_modality_conv1(state["conv1.weight"], 4))
    assert flow.backbone.fc.weight.shape == (5, 64)  # the 1000-class fc is not loaded


def test_imagenet_keyword_fetches_from_the_override(torch_home, monkeypatch):
    torch.manual_seed(4)
    state = ResNet(depth=18).state_dict()  # torchvision's ResNet-18 shapes (width 64)
    data = state_dict_bytes(state)
    with serve() as server:
        name = hashed_name("resnet18", data)
        server.files[name] = data
        monkeypatch.setenv(URL_ENV, server.url + name)
        model = ResNet(depth=18, in_channels=4, num_classes=7)
        initialise_backbone(model, {"pretrained": "imagenet", "depth": 18, "base_width": 64})
    assert torch.equal(model.bn1.running_mean, state["bn1.running_mean"])
    assert torch.equal(model.conv1.weight, cross_modality_conv1(state["conv1.weight"], 4))
    assert leftovers(torch_home) == [name]


def test_wrong_hash_is_refused_and_nothing_cached(weights, torch_home):
    _, data = weights
    with serve() as server:
        server.files["resnet18-deadbeef.pth"] = data
        with pytest.raises(TclstaError, match="SHA-256") as err:
            initialise_backbone(ResNet(depth=18, base_width=8),
                                {**SMALL, "pretrained": server.url + "resnet18-deadbeef.pth"})
    assert str(cache_dir() / "resnet18-deadbeef.pth") in str(err.value)
    assert leftovers(torch_home) == []


def test_cut_off_download_is_refused_and_nothing_cached(weights, torch_home):
    _, data = weights
    with serve() as server:
        name = hashed_name("resnet18", data)
        server.files[name] = data
        server.cut.add(name)
        with pytest.raises(TclstaError, match=rf"cut off at {len(data) // 2} of {len(data)} bytes"):
            initialise_backbone(ResNet(depth=18, base_width=8), {**SMALL, "pretrained": server.url + name})
    assert leftovers(torch_home) == []


def test_offline_says_which_file_to_put_where(torch_home):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/resnet18-0123abcd.pth"
    with pytest.raises(TclstaError, match="download failed") as err:
        initialise_backbone(ResNet(depth=18, base_width=8), {**SMALL, "pretrained": url})
    assert f"put it at {cache_dir() / 'resnet18-0123abcd.pth'}" in str(err.value)
    assert leftovers(torch_home) == []


def test_corrupt_cached_file_is_refused(weights, torch_home):
    _, data = weights
    name = hashed_name("resnet18", data)
    cache_dir().mkdir(parents=True)
    (cache_dir() / name).write_bytes(data[:-10] + b"0123456789")
    with pytest.raises(TclstaError, match="corrupt"):
        initialise_backbone(ResNet(depth=18, base_width=8), {**SMALL, "pretrained": f"http://127.0.0.1:9/{name}"})


def test_none_warns_and_null_is_an_error(caplog):
    model = ResNet(depth=18, base_width=8)
    before = model.conv1.weight.clone()
    with caplog.at_level(logging.WARNING):
        initialise_backbone(model, {**SMALL, "pretrained": "none"})
    assert "from scratch" in caplog.text
    assert torch.equal(model.conv1.weight, before)
    with pytest.raises(ConfigError, match="model.pretrained is empty"):
        initialise_backbone(model, {**SMALL, "pretrained": None})
