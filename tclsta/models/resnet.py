"""ResNet trunk of the connection network (paper Table II), torchvision-compatible.

Parameter names and shapes follow torchvision's ``resnet*`` exactly (``conv1.weight``,
``bn1.*``, ``layer1.0.conv1.weight`` …, ``layerX.0.downsample.{0,1}.*``, ``fc.*``), so an
ImageNet checkpoint saved from torchvision loads from a local file. ``base_width`` scales
every channel count (64 = torchvision) so CPU runs can use tiny networks; ``in_channels``
selects 3 (RGB) or 2L (stacked flow) input channels. ``output_stride`` 16, 8 or 4 replaces the
stride of conv5_x (and conv4_x, and conv3_x) by dilation, as torchvision's ``replace_stride_with_dilation``:
the same weights, a conv5 grid 2× (4×, 8×) finer, so small CPU crops still give a 7×7+ attention grid.
``max_dilation`` caps that dilation: at output stride 8 conv5_x's 3×3 kernels are dilated by 4,
which on an 8×8 grid reads cells half the grid apart (gridding); capped at 2 they read neighbours.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from tclsta.errors import ConfigError, TclstaError

log = logging.getLogger(__name__)


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    """3×3 convolution with padding (= dilation), no bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation, dilation=dilation,
                     bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1×1 convolution, no bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with a residual connection (ResNet-18/34); ``dilation`` of each (for output stride < 32)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 dilation: tuple[int, int] = (1, 1)) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride, dilation[0])
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes, dilation=dilation[1])
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1×1 → 3×3 (stride here, as torchvision's "ResNet v1.5") → 1×1 bottleneck (ResNet-50/101/152)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 dilation: tuple[int, int] = (1, 1)) -> None:
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride, dilation[0])  # torchvision: the previous dilation
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


ARCHITECTURES: dict[int, tuple[type[nn.Module], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


class ResNet(nn.Module):
    """ResNet with a ``forward_features`` (last conv map, conv5_x) / head (GAP + ``fc``) split."""

    def __init__(self, *, depth: int = 50, base_width: int = 64, in_channels: int = 3, num_classes: int = 1000,
                 output_stride: int = 32, max_dilation: int | None = None) -> None:
        super().__init__()
        if depth not in ARCHITECTURES:
            raise ConfigError(f"model.depth={depth}: expected one of {sorted(ARCHITECTURES)}")
        if output_stride not in (4, 8, 16, 32):
            raise ConfigError(f"model.output_stride={output_stride}: expected 4, 8, 16 or 32")
        if max_dilation is not None and max_dilation < 1:
            raise ConfigError(f"model.max_dilation={max_dilation}: expected an integer >= 1 or null")
        self.max_dilation = max_dilation
        block, layers = ARCHITECTURES[depth]
        self.inplanes = base_width
        self.dilation = 1
        self.conv1 = nn.Conv2d(in_channels, base_width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(base_width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, base_width, layers[0])
        # a stage is dilated instead of strided when its stride would take the map past output_stride
        self.layer2 = self._make_layer(block, base_width * 2, layers[1], stride=2, dilate=output_stride < 8)
        self.layer3 = self._make_layer(block, base_width * 4, layers[2], stride=2, dilate=output_stride < 16)
        self.layer4 = self._make_layer(block, base_width * 8, layers[3], stride=2, dilate=output_stride < 32)
        self.num_features = base_width * 8 * block.expansion
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(self.num_features, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _make_layer(self, block: type[nn.Module], planes: int, blocks: int, stride: int = 1,
                    dilate: bool = False) -> nn.Sequential:
        """One conv stage; ``dilate`` trades its stride for dilation (torchvision's replace_stride_with_dilation)."""
        previous = self.dilation
        if dilate:
            self.dilation *= stride
            if self.max_dilation is not None:
                self.dilation = min(self.dilation, self.max_dilation)
            stride = 1
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride), nn.BatchNorm2d(planes * block.expansion)
            )
        layers = [block(self.inplanes, planes, stride, downsample, (previous, self.dilation))]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, dilation=(self.dilation, self.dilation)) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The conv5_x activation map, shape (N, num_features, H/s, W/s) for output stride s (32 by default)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits: conv5_x → global average pooling → ``fc``."""
        return self.fc(torch.flatten(self.avgpool(self.forward_features(x)), 1))


def cross_modality_conv1(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """Cross-modality initialisation: mean over the input channels of ``weight``, replicated ``in_channels`` times."""
    return weight.mean(dim=1, keepdim=True).repeat(1, in_channels, 1, 1)


def adapt_state_dict(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """Make a torchvision-format ``state`` fit ``model``.

    conv1 with another input-channel count gets the cross-modality initialisation; an
    ``fc`` of another class count is dropped (keeps the model's own initialisation);
    missing ``num_batches_tracked`` buffers (old checkpoints) are filled with zeros.
    Any other missing, unexpected or mis-shaped key is an error naming ``source``.
    """
    own = model.state_dict()
    state = dict(state)
    weight = state.get("conv1.weight")
    if weight is not None and weight.shape[1] != own["conv1.weight"].shape[1]:
        state["conv1.weight"] = cross_modality_conv1(weight, own["conv1.weight"].shape[1])
        log.info("%s: conv1 %d → %d input channels (cross-modality initialisation)", source, weight.shape[1],
                 own["conv1.weight"].shape[1])
    for key in ("fc.weight", "fc.bias"):
        if key in state and state[key].shape != own[key].shape:
            log.info("%s: %s has shape %s, the model %s: keeping the model's initialisation", source, key,
                     tuple(state[key].shape), tuple(own[key].shape))
            state[key] = own[key]
    for key, value in own.items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.zeros_like(value)
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        raise TclstaError(
            f"{source}: does not fit a ResNet of this depth/width (missing {missing[:5]}, unexpected "
            f"{unexpected[:5]}, wrong shape {wrong[:5]})"
        )
    return state


def load_pretrained(model: ResNet, path: str | Path) -> None:
    """Load a local torchvision-format state_dict (``torch.load(weights_only=True)``) into ``model``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"model.pretrained={path}: file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad file
        raise TclstaError(f"{path}: not a loadable state_dict ({err})") from err
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    model.load_state_dict(adapt_state_dict(model, state, str(path)), strict=True)
    log.info("loaded pretrained weights from %s", path)
