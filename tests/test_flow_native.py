"""TV-L1's fast paths: the native CPU level (C warp + whole inner loop per pair), the torch path's
convergence check every SYNC_EVERY steps, the compile fallback versus out-of-memory, and the library
API in a plain process where OMP_WAIT_POLICY was never set."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from test_flow import as_batch, textured_pair

from tclsta.flow import native, tvl1
from tclsta.flow.opencv_backend import tvl1_opencv

tvl1_module = sys.modules["tclsta.flow.tvl1"]

# pairs that converge after different numbers of iterations (one is already converged at the start)
MOTIONS = [(0, 0), (1.5, -0.7), (-3, 2), (0.3, 0.1)]


def pairs_batch(h: int = 32, w: int = 40) -> tuple[torch.Tensor, torch.Tensor, list]:
    pairs = [textured_pair(h, w, dx, dy, seed) for seed, (dx, dy) in enumerate(MOTIONS)]
    return as_batch([p[0] for p in pairs]), as_batch([p[1] for p in pairs]), pairs


needs_native = pytest.mark.skipif(not native.available(), reason="no C compiler for the native TV-L1")


@needs_native
@pytest.mark.parametrize("gamma", [0.0, 0.1])
def test_native_batch_equals_its_pairs_one_by_one_exactly(gamma: float) -> None:
    prev, nxt, _ = pairs_batch()
    batch = tvl1(prev, nxt, compiled=True, gamma=gamma)
    single = torch.cat([tvl1(prev[i:i + 1], nxt[i:i + 1], compiled=True, gamma=gamma) for i in range(len(MOTIONS))])
    assert torch.equal(batch, single)


@needs_native
def test_native_agrees_with_opencv_and_eager() -> None:
    # the pairs of test_flow.test_agrees_with_opencv
    pairs = [textured_pair(32, 40, dx, dy, seed) for seed, (dx, dy) in enumerate([(1.5, -0.7), (-2.2, 1.1), (0.4, 2.6)])]
    prev, nxt = as_batch([p[0] for p in pairs]), as_batch([p[1] for p in pairs])
    ours = tvl1(prev, nxt, compiled=True).permute(0, 2, 3, 1).numpy()
    for k, (a, b) in enumerate(pairs):
        diff = np.linalg.norm(ours[k] - tvl1_opencv(a, b), axis=-1)
        # same tolerances as the eager path (test_flow.test_agrees_with_opencv)
        assert diff.mean() < 0.005 and diff.max() < 0.1, (k, diff.mean(), diff.max())
    # without the stopping rule (tiny epsilon) both run the same steps: only float rounding differs
    params = {"nscales": 2, "warps": 2, "outer_iterations": 2, "inner_iterations": 10, "epsilon": 1e-9}
    torch.testing.assert_close(tvl1(prev, nxt, compiled=True, **params), tvl1(prev, nxt, **params), rtol=0, atol=1e-4)


@needs_native
def test_native_warp_matches_the_torch_warp() -> None:
    rng = np.random.default_rng(0)
    b, h, w = 2, 20, 24
    stack = torch.from_numpy(rng.uniform(0, 255, (b, 3, h, w)).astype(np.float32))
    i0 = torch.from_numpy(rng.uniform(0, 255, (b, h, w)).astype(np.float32))
    u = torch.from_numpy(rng.uniform(-4, 4, (b, 2, h, w)).astype(np.float32))  # some taps fall outside
    warped = tvl1_module.warp_bicubic(stack, u)
    a, grad, rho_c = torch.empty(2, h, w), torch.empty(1, h, w), torch.empty(1, h, w)
    lib = native._load()
    for k in range(b):
        lib.tvl1_warp(h, w, stack[k].data_ptr(), i0[k].data_ptr(), u[k].data_ptr(), a.data_ptr(),
                      grad.data_ptr(), rho_c.data_ptr())
        ix, iy = warped[k, 1], warped[k, 2]
        torch.testing.assert_close(a, warped[k, 1:], rtol=1e-5, atol=1e-3)
        torch.testing.assert_close(grad[0], ix * ix + iy * iy, rtol=1e-4, atol=1e-2)
        torch.testing.assert_close(rho_c[0], warped[k, 0] - ix * u[k, 0] - iy * u[k, 1] - i0[k], rtol=1e-4, atol=1e-2)


def test_convergence_checked_every_k_steps_gives_the_same_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    # torch path (what CUDA runs): steps after the last check leave converged pairs untouched
    prev, nxt, _ = pairs_batch()
    # epsilon 0.05: every pair converges inside the inner loop, so the last check comes up to
    # 6 steps after the last pair stopped (with converged pairs not frozen, the flows would differ)
    params = {"nscales": 1, "warps": 2, "outer_iterations": 3, "epsilon": 0.05}
    monkeypatch.setattr(tvl1_module, "SYNC_EVERY", 1)
    every_step = tvl1(prev, nxt, **params)
    monkeypatch.setattr(tvl1_module, "SYNC_EVERY", 7)
    every_7 = tvl1(prev, nxt, **params)
    assert torch.equal(every_step, every_7)
    assert not torch.equal(every_step[0], every_step[1])


class _FakeOutOfMemory(torch.cuda.OutOfMemoryError):
    """What the CUDA caching allocator raises, raised here on CPU."""


def _compiled_runner(monkeypatch: pytest.MonkeyPatch, error: BaseException):
    def fn(x: torch.Tensor) -> torch.Tensor:
        return x + 1

    def broken_compile(f, **kwargs):
        def run(*args):
            raise error
        return run

    monkeypatch.setattr(tvl1_module, "_compiled", {})
    monkeypatch.setattr(torch, "compile", broken_compile)
    return fn, tvl1_module._fused(fn, True)


@pytest.mark.parametrize("wrapped", [False, True])
def test_out_of_memory_is_raised_not_run_eagerly(monkeypatch: pytest.MonkeyPatch, wrapped: bool) -> None:
    oom = _FakeOutOfMemory("CUDA out of memory. Tried to allocate 2.00 GiB")
    error: BaseException = oom
    if wrapped:  # as torch's compile machinery re-raises errors from a compiled graph
        error = RuntimeError("backend failed")
        error.__cause__ = oom
    fn, run = _compiled_runner(monkeypatch, error)
    with pytest.raises(RuntimeError) as caught:
        run(torch.zeros(2))
    assert caught.value is error
    assert tvl1_module._compiled[fn] is run  # still compiled next time, not switched to eager


def test_compile_failure_falls_back_to_eager(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    fn, run = _compiled_runner(monkeypatch, RuntimeError("no C++ compiler"))
    assert torch.equal(run(torch.zeros(2)), torch.ones(2))
    assert tvl1_module._compiled[fn] is fn and "TV-L1 runs uncompiled" in caplog.text


def test_native_without_a_compiler_says_so(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    monkeypatch.setattr(native, "_library", None)
    monkeypatch.setenv("CC", "/nonexistent/cc")
    assert not native.available()
    assert "cannot build the native TV-L1 loop" in caplog.text


def test_library_api_in_a_plain_process(tmp_path) -> None:
    # as a user calls it: torch imported first, OMP_WAIT_POLICY never set, 2 threads
    script = textwrap.dedent("""
        import os, sys, torch
        sys.path.insert(0, sys.argv[1])
        from test_flow import as_batch, textured_pair
        from tclsta.flow import tvl1
        from tclsta.flow.opencv_backend import tvl1_opencv
        import numpy as np
        torch.set_num_threads(2)
        pairs = [textured_pair(48, 64, 1.5, -0.7, 1), textured_pair(48, 64, -2.0, 1.0, 2)]
        flow = tvl1(as_batch([p[0] for p in pairs]), as_batch([p[1] for p in pairs]), compiled=True)
        for k, (a, b) in enumerate(pairs):
            diff = np.linalg.norm(flow[k].permute(1, 2, 0).numpy() - tvl1_opencv(a, b), axis=-1).mean()
            assert diff < 0.005, diff
        assert "OMP_WAIT_POLICY" not in os.environ
        print("ok", tuple(flow.shape))
    """)
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", script, os.path.dirname(__file__)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "ok (2, 2, 48, 64)" in out.stdout


@needs_native
def test_compiled_code_goes_to_the_shared_cache(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from tclsta.flow.cache import use_cache_dir

    for name in ("TORCHINDUCTOR_CACHE_DIR", "TCLSTA_CACHE_DIR"):  # restored afterwards, also when set below
        monkeypatch.setenv(name, "unset")
        monkeypatch.delenv(name)
    assert use_cache_dir(tmp_path / "shared") == tmp_path / "shared"
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "shared" / "inductor")
    monkeypatch.setattr(native, "_library", None)
    assert native.available()
    assert len(list((tmp_path / "shared" / "native").glob("tvl1_native-*.so"))) == 1
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "/elsewhere")  # a user's own choice is kept
    use_cache_dir(tmp_path / "other")
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == "/elsewhere"


@needs_native
def test_native_call_leaves_the_thread_count_as_it_was() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with native.single_threaded_torch() as outer:
            assert (outer, torch.get_num_threads()) == (2, 1)
        with pytest.raises(ValueError), native.single_threaded_torch():
            raise ValueError("interrupted")
        assert torch.get_num_threads() == 2
        prev, nxt, _ = pairs_batch()
        tvl1(prev, nxt, compiled=True, nscales=1, warps=1)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
