"""TV-L1 on CPU with no parallel regions inside a pyramid level: each worker thread runs whole pairs.

Why: a ``torch.compile``d iteration is a few OpenMP parallel regions, and TV-L1 runs hundreds of
short iterations per warp; each region ends in a barrier where idle threads spin (libgomp's
default wait policy) and where the whole team waits whenever one thread has been descheduled.
With another busy process on the cores that costs several times the work itself. Here a
pair's whole work at one pyramid level (warpings, median filters, inner loops) runs in one
worker thread: the warping and the whole inner loop (up to ``inner_iterations`` steps) are C
functions (``tvl1_native.c``) called with the GIL released, the median is OpenCV's. A level
therefore has no parallel regions and no barriers; idle workers sleep on a queue. Pairs are
independent, so a batch gives exactly what its pairs give one by one.

The C file is compiled once per machine type with the system C compiler (``$CC``, else ``cc``)
into the shared cache (:func:`tclsta.flow.cache.cache_dir`); without a compiler
:func:`available` is False and TV-L1 uses its torch path.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from tclsta.atomic import atomic_path
from tclsta.flow.cache import cache_dir

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("tvl1_native.c")
FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd", "-fPIC", "-shared", "-std=c11"]

_library: ctypes.CDLL | None | bool = None  # None: not tried yet; False: could not build
_pool: tuple[int, ThreadPoolExecutor] | None = None  # (workers, pool)


def _cpu_signature() -> str:
    """What the compiled code depends on besides its source: CPU type and instruction sets."""
    text = platform.machine() + platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "model name", "Features")):
                text += line
                break
    except OSError:
        pass
    return text


def _build(compiler: str) -> Path:
    """The shared library for this source, flags and CPU, compiled into the cache if missing."""
    key = hashlib.sha256(SOURCE.read_bytes() + " ".join(FLAGS).encode() + _cpu_signature().encode()).hexdigest()[:16]
    target = cache_dir() / "native" / f"tvl1_native-{key}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            subprocess.run([compiler, *FLAGS, str(SOURCE), "-o", str(tmp), "-lm"], check=True,
                           capture_output=True, text=True)
        log.info("compiled %s", target)
    return target


def _load() -> ctypes.CDLL | None:
    global _library
    if _library is None:
        compiler = shutil.which(os.environ.get("CC", "cc"))
        try:
            if compiler is None:
                raise FileNotFoundError("no C compiler ($CC or cc)")
            lib = ctypes.CDLL(str(_build(compiler)))
        except (OSError, subprocess.CalledProcessError) as err:
            detail = getattr(err, "stderr", "") or err
            log.warning("cannot build the native TV-L1 loop (%s); using the torch path", detail)
            _library = False
            return None
        lib.tvl1_inner.restype = ctypes.c_int
        lib.tvl1_inner.argtypes = ([ctypes.c_int] * 3 + [ctypes.c_void_p] * 6 + [ctypes.c_int]
                                   + [ctypes.c_float] * 3 + [ctypes.c_double, ctypes.POINTER(ctypes.c_int)])
        lib.tvl1_warp.restype = None
        lib.tvl1_warp.argtypes = [ctypes.c_int] * 2 + [ctypes.c_void_p] * 6
        _library = lib
    return _library or None


def available() -> bool:
    """Whether the native loop is built (building it on first use)."""
    return _load() is not None


@contextmanager
def single_threaded_torch() -> Iterator[int]:
    """Run torch's own CPU ops single-threaded inside the block; yields the thread count before.

    The few tensor ops around the native levels (pyramid, gradients, upsampling) are small; run
    in parallel, each would wake OpenMP threads that then spin (libgomp's default wait policy,
    milliseconds per region) on the cores our workers need. Restored on exit."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield n
    finally:
        torch.set_num_threads(n)


def _workers(n: int) -> ThreadPoolExecutor:
    """A pool of ``n`` worker threads (re-made when ``n`` changes)."""
    global _pool
    n = max(1, n)
    if _pool is None or _pool[0] != n:
        if _pool is not None:
            _pool[1].shutdown()
        _pool = (n, ThreadPoolExecutor(n, thread_name_prefix="tvl1"))
    return _pool[1]


def _pointer(t: Tensor) -> int:
    if t.dtype != torch.float32 or not t.is_contiguous() or t.device.type != "cpu":
        raise ValueError("the native TV-L1 needs contiguous float32 CPU tensors")
    return t.data_ptr()


def one_scale(
    i0: Tensor, stack: Tensor, u: Tensor, median: Callable[[np.ndarray, int], np.ndarray], *,
    median_filtering: int, gamma: float, warps: int, workers: int,
    outer_iterations: int, inner_iterations: int, l_t: float, theta: float, taut: float, scaled_eps: float,
) -> Tensor:
    """OpenCV's ``procOneScale`` for each pair, one pair per worker thread; returns the new flow.

    ``i0`` is the first image ``[B, H, W]``, ``stack`` the second with its centred gradient
    ``[B, 3, H, W]``, ``u`` the initial flow ``[B, C, H, W]`` (C = 3 when gamma ≠ 0).
    ``median(planes, ksize)`` filters one pair's flow planes ``[2, H, W]`` (when ``median_filtering`` > 1);
    ``workers`` threads share the pairs."""
    lib = _load()
    b, c, h, w = u.shape
    u = u.float().contiguous().clone()
    i0 = i0.float().contiguous()
    stack = stack.float().contiguous()
    px, py = torch.zeros_like(u), torch.zeros_like(u)
    a = torch.full_like(u, gamma)  # channel 2 (gamma ≠ 0) keeps gamma; the warp writes 0 and 1
    grad = u.new_empty((b, 1, h, w))
    rho_c = u.new_empty((b, 1, h, w))

    tensors = (stack, i0, u, px, py, a, grad, rho_c)
    bases = [_pointer(t) for t in tensors]
    strides = [t.stride(0) * t.element_size() for t in tensors]

    def pair(k: int) -> None:
        p_stack, p_i0, p_u, p_px, p_py, p_a, p_grad, p_rho = (base + k * s for base, s in zip(bases, strides))
        flow = u[k, :2].numpy()  # a view: the median writes through numpy, no OpenMP region in a worker
        converged = ctypes.c_int(0)
        for _ in range(warps):
            lib.tvl1_warp(h, w, p_stack, p_i0, p_u, p_a, p_grad, p_rho)
            for _ in range(outer_iterations):
                if median_filtering > 1:
                    flow[...] = median(flow, median_filtering)
                lib.tvl1_inner(c, h, w, p_u, p_px, p_py, p_a, p_grad, p_rho, inner_iterations, l_t, theta, taut,
                               scaled_eps, ctypes.byref(converged))
                if converged.value:
                    break

    list(_workers(workers).map(pair, range(b)))
    return u
