"""Device choice, mixed precision and batched inference shared by training and the feature dump."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader

from tclsta.data.transforms import normalise
from tclsta.models.stream import AttentionStream, StreamOutput


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; a no-op on CPU (float32)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def prepare(model: AttentionStream, device: torch.device) -> AttentionStream:
    """Move ``model`` to ``device`` (on CUDA: channels_last memory format, cuDNN autotuning for the fixed input size)."""
    model = model.to(device)
    if device.type != "cuda":
        return model
    torch.backends.cudnn.benchmark = True
    return model.to(memory_format=torch.channels_last)


def model_input(clips: torch.Tensor, device: torch.device, flow: bool) -> torch.Tensor:
    """The loader's uint8 clips (B, T, C, S, S), copied to ``device`` as bytes and normalised there."""
    return normalise(clips.to(device, non_blocking=True), flow)


def loader_options(device: torch.device, num_workers: int) -> dict:
    """DataLoader options: pinned host memory on CUDA (asynchronous copies), ``num_workers`` workers."""
    return {"num_workers": num_workers, "pin_memory": device.type == "cuda"}


@torch.no_grad()
def infer(model: AttentionStream, loader: DataLoader, device: torch.device
          ) -> Iterator[tuple[StreamOutput, torch.Tensor, torch.Tensor]]:
    """Evaluation-mode outputs for each batch of ``loader``: (output, labels, positions)."""
    model.eval()
    flow = loader.dataset.flow
    for clips, labels, positions in loader:
        with autocast(device):
            output = model(model_input(clips, device, flow))
        yield output, labels, positions


def correct_count(model: AttentionStream, loader: DataLoader, device: torch.device) -> tuple[int, int]:
    """(correctly classified, all) videos of ``loader``; the prediction is the mean of the heads' probabilities."""
    correct = total = 0
    for output, labels, _ in infer(model, loader, device):
        correct += int((output.prediction().argmax(dim=1).cpu() == labels).sum())
        total += len(labels)
    return correct, total


def accuracy(model: AttentionStream, loader: DataLoader, device: torch.device) -> float:
    """Video accuracy of the stream's prediction over ``loader``."""
    correct, total = correct_count(model, loader, device)
    return correct / max(total, 1)
