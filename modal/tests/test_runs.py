"""A run's life beyond the happy path: CUDA required but unusable fails at once (no silent CPU
training), and a cancel stops the run's process group with no callback after it."""

from __future__ import annotations

import os
import time
import types

import httpx
import pytest

from twin_gpu.tiny_model import toy_dataset

from conftest import AUTH


def test_a_gpu_run_without_usable_cuda_fails_at_once_and_says_so(store, receiver, new_ids, make_train_request,
                                                                  monkeypatch):
    import torch

    from twin_gpu.contract import TrainRequest
    from twin_gpu.gpu import CudaUnavailable
    from twin_gpu.train import run_training

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # what a broken driver looks like
    user_id, run_id = new_ids()
    req = make_train_request(user_id, run_id, receiver.url(run_id))
    store.put_json(req["datasetPath"], toy_dataset())
    started = time.monotonic()
    with pytest.raises(CudaUnavailable, match="refusing to train on the CPU"):
        run_training(TrainRequest.model_validate(req), require_gpu=True)
    assert time.monotonic() - started < 10  # before the dataset or the model is loaded
    events = [c["json"] for c in receiver.wait_final(run_id, timeout=10)]
    assert [(e["seq"], e["event"], e["stage"]) for e in events] == [(1, "started", "starting"),
                                                                    (2, "failed", "starting")]
    assert events[-1]["error"].startswith("CudaUnavailable: CUDA is not usable") and events[-1]["retryable"] is True
    assert store.head(f"{req['outputPrefix']}/training_config.json") is None


def test_the_gpu_requirement_comes_from_the_environment_on_modal(monkeypatch):
    from twin_gpu import train

    monkeypatch.setenv("TWIN_REQUIRE_GPU", "1")
    assert train._require_gpu_default() is True
    monkeypatch.setenv("TWIN_REQUIRE_GPU", "0")
    assert train._require_gpu_default() is False


def _fake_torch(*, available: bool = True, kernel_error: Exception | None = None, bf16: bool = True):
    class Tensor:
        def __mul__(self, _k):
            if kernel_error:
                raise kernel_error
            return self

        def sum(self):
            return types.SimpleNamespace(item=lambda: 16.0)

    cuda = types.SimpleNamespace(
        is_available=lambda: available, get_device_name=lambda _i: "NVIDIA L4", get_device_capability=lambda _i: (8, 9),
        synchronize=lambda: None, is_bf16_supported=lambda: bf16,
    )
    return types.SimpleNamespace(__version__="2.15.0+cu132", version=types.SimpleNamespace(cuda="13.2"), cuda=cuda,
                                 ones=lambda *_a, **_k: Tensor())


def test_require_cuda_runs_a_kernel_not_just_is_available():
    from twin_gpu.gpu import CudaUnavailable, require_cuda, select_device

    assert require_cuda(_fake_torch()) == "cuda"
    with pytest.raises(CudaUnavailable, match=r"is_available\(\) is False"):
        require_cuda(_fake_torch(available=False))
    broken = RuntimeError("CUDA error: no kernel image is available for execution on the device")
    with pytest.raises(CudaUnavailable, match=r"test kernel failed.*no kernel image"):
        require_cuda(_fake_torch(kernel_error=broken))
    with pytest.raises(CudaUnavailable, match="bf16"):
        require_cuda(_fake_torch(bf16=False))
    # local mode and tests: no GPU required, the CPU is used
    assert select_device(False, _fake_torch(available=False)) == "cpu"
    with pytest.raises(CudaUnavailable):
        select_device(True, _fake_torch(available=False))


def test_cancel_stops_a_running_call_and_its_callbacks(web, store, receiver, new_ids, make_train_request, request):
    user_id, run_id = new_ids()
    req = make_train_request(user_id, run_id, receiver.url(run_id),
                             hyperparameters={"maxSteps": 5000, "progressEvery": 1, "learningRate": 1e-3})
    store.put_json(req["datasetPath"], toy_dataset())
    r = httpx.post(f"{web['url']}/train", json=req, headers=AUTH, timeout=10)
    call_id = r.json()["callId"]
    request.addfinalizer(lambda: web["spawner"].cancel(call_id))  # never leave it training if this fails
    receiver.wait_for(run_id, lambda calls: any(c["json"]["stage"] == "training" for c in calls), timeout=120)
    pid = web["spawner"]._calls[call_id].proc.pid

    r = httpx.post(f"{web['url']}/train/{call_id}/cancel", headers=AUTH, timeout=30)
    assert r.json() == {"callId": call_id, "cancelled": True, "status": "cancelled"}
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # the whole process group is gone
    seen = len(receiver.for_run(run_id))
    time.sleep(1.0)
    events = receiver.for_run(run_id)
    assert len(events) == seen and not any(c["json"]["event"] in {"completed", "failed"} for c in events)
    assert httpx.get(f"{web['url']}/train/{call_id}", headers=AUTH, timeout=10).json()["status"] == "cancelled"
    again = httpx.post(f"{web['url']}/train/{call_id}/cancel", headers=AUTH, timeout=10).json()
    assert again == {"callId": call_id, "cancelled": False, "status": "cancelled"}
    assert store.head(f"{req['outputPrefix']}/training_config.json") is None


def test_unknown_calls_are_unknown(web):
    assert httpx.get(f"{web['url']}/train/lc-nope", headers=AUTH, timeout=10).json() == {
        "callId": "lc-nope", "status": "unknown", "error": None}
    assert httpx.post(f"{web['url']}/train/lc-nope/cancel", headers=AUTH, timeout=10).json() == {
        "callId": "lc-nope", "cancelled": False, "status": "unknown"}
    assert httpx.get(f"{web['url']}/train/lc-nope", timeout=10).status_code == 401


def test_tiny_mode_trains_the_tiny_model_whatever_base_a_run_names(tmp_path, store, receiver, new_ids,
                                                                    make_train_request, tiny_model):
    """The local trainer's TWIN_LOCAL_TINY: the request a run's process gets names the tiny model."""
    import json

    from twin_gpu.local import LocalSpawner

    spawner = LocalSpawner(tmp_path / "calls", base_model=str(tiny_model))
    user_id, run_id = new_ids()
    req = make_train_request(user_id, run_id, None, baseModel="Qwen/Qwen2.5-0.5B-Instruct")
    call_id = spawner.spawn(req)
    try:
        sent = json.loads((tmp_path / "calls" / f"{call_id}.json").read_text())
        assert sent["baseModel"] == str(tiny_model) and sent["runId"] == run_id
        assert spawner.spawn(req) == call_id  # the same attempt again: the same call
        assert spawner.spawn({**req, "attempt": 2}) != call_id
    finally:
        spawner.shutdown()
    assert all(spawner.status(c)["status"] == "cancelled" for c in spawner._calls)
