"""The Modal app imports with the real `modal` SDK and declares what modal/README.md says — checked
on the function objects, without deploying (no network to Modal)."""

from __future__ import annotations

import warnings

import pytest

modal = pytest.importorskip("modal")


@pytest.fixture(scope="module")
def app_module():
    import twin_gpu.modal_app as m

    return m


def _functions(app):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # registered_functions is deprecated but still the public listing
        return dict(app.registered_functions)


def _closure(fn) -> dict:
    """The options a function was declared with (timeout, retries, …) live in its loader's closure."""
    from modal._utils.async_utils import synchronizer

    load = synchronizer._translate_in(fn)._load
    code = getattr(load, "__func__", load)
    return dict(zip(code.__code__.co_freevars, (c.cell_contents for c in code.__closure__), strict=True))


def test_the_sdk_is_the_real_one_not_our_folder():
    assert hasattr(modal, "App") and "site-packages" in modal.__file__


def test_one_app_with_the_expected_functions(app_module):
    assert app_module.app.name == "digital-twin"
    assert set(_functions(app_module.app)) == {"train", "web", "prepare_base_model", "Inference.*"}


def _spec(app_module, name):
    from modal._utils.async_utils import synchronizer

    return synchronizer._translate_in(_functions(app_module.app)[name])._spec


@pytest.mark.parametrize(("name", "gpu", "volume"), [
    ("train", "L4", True),
    ("Inference.*", "L4", True),
    ("web", None, False),  # the training routes only spawn, poll and cancel: no GPU (DESIGN §8)
    ("prepare_base_model", None, True),  # a GGUF conversion needs no GPU
])
def test_gpu_volume_secret_and_region(app_module, name, gpu, volume):
    spec = _spec(app_module, name)
    assert spec.gpus == gpu
    assert {str(k): v.name for k, v in spec.volumes.items()} == ({"/cache": "digital-twin-models"} if volume else {})
    # train's env= (TWIN_REQUIRE_GPU) travels as an unnamed secret
    assert [s.name for s in spec.secrets if s.name] == ["digital-twin"]
    assert list(spec.scheduler_placement.regions) == ["us-west-1"]


def test_web_runs_on_the_small_image_and_gpu_functions_on_the_cuda_one(app_module):
    from modal._utils.async_utils import synchronizer

    def same(a, b) -> bool:
        return synchronizer._translate_in(a) is synchronizer._translate_in(b)

    assert same(_spec(app_module, "web").image, app_module.web_image)
    assert "torch" not in _dockerfile(app_module.web_image) and "CUDA" not in _dockerfile(app_module.web_image)
    for name in ("train", "Inference.*"):
        assert same(_spec(app_module, name).image, app_module.gpu_image)


def test_training_function_has_a_long_timeout_no_retries_and_requires_cuda(app_module):
    opts = _closure(_functions(app_module.app)["train"])
    assert opts["timeout"] == 3 * 60 * 60
    assert opts["retry_policy"] is None or opts["retry_policy"].retries == 0
    assert opts["webhook_config"] is None
    assert len([s for s in _spec(app_module, "train").secrets if not s.name]) == 1  # env={"TWIN_REQUIRE_GPU": "1"}


def test_web_function_is_an_asgi_app_with_concurrency(app_module):
    from modal_proto import api_pb2

    opts = _closure(_functions(app_module.app)["web"])
    assert opts["webhook_config"].type == api_pb2.WEBHOOK_TYPE_ASGI_APP
    assert opts["timeout"] == 600
    assert opts["max_concurrent_inputs"] == 32
    assert opts["scaledown_window"] == 300


def test_inference_warms_up_and_serves_an_asgi_app(app_module):
    from modal_proto import api_pb2

    user_cls = app_module.Inference._get_user_cls()
    assert {"warm_up", "api"} <= set(vars(user_cls))
    opts = _closure(_functions(app_module.app)["Inference.*"])
    assert opts["max_concurrent_inputs"] == 8 and opts["scaledown_window"] == 300
    del api_pb2


def test_llama_cpp_is_built_for_a100_l4_and_h100(app_module):
    assert app_module.CUDA_ARCHITECTURES.split(";") == ["80", "86", "89", "90"]
    assert f"-DCMAKE_CUDA_ARCHITECTURES={app_module.CUDA_ARCHITECTURES}" in _dockerfile(app_module.gpu_image)
    assert "-DGGML_CUDA=on" in _dockerfile(app_module.gpu_image)


def test_cuda_toolkit_matches_the_pinned_torch_runtime(app_module):
    """llama.cpp is compiled with the CUDA that torch's wheel ships: one driver floor for both."""
    from pathlib import Path

    lock = (Path(app_module.__file__).parent.parent / "requirements.lock").read_text().splitlines()
    runtime = next(line.split("==")[1] for line in lock if line.startswith("nvidia-cuda-runtime=="))
    assert ".".join(runtime.split(".")[:2]) == app_module.CUDA_VERSION
    assert app_module.CUDA_IMAGE.startswith(f"nvidia/cuda:{app_module.CUDA_VERSION}.")
    assert "-devel-" in app_module.CUDA_IMAGE  # nvcc, to compile llama.cpp's CUDA backend


def _dockerfile(image) -> str:
    """The Dockerfile commands of the image's layers, rendered locally (nothing is sent to Modal)."""
    from modal._utils.async_utils import synchronizer

    out: list[str] = []

    def walk(img) -> None:
        load = synchronizer._translate_in(img)._load
        code = getattr(load, "__func__", load)
        closure = dict(zip(code.__code__.co_freevars, (c.cell_contents for c in code.__closure__), strict=True))
        for base in closure.get("base_images", {}).values():
            walk(base)
        if closure.get("dockerfile_function"):
            out.extend(closure["dockerfile_function"]("2025.06").commands)

    walk(image)
    return "\n".join(out)


def test_image_installs_the_pinned_dependencies(app_module):
    import tomllib
    from pathlib import Path

    deps = app_module._pinned_dependencies()
    pyproject = tomllib.loads((Path(app_module.__file__).parent.parent / "pyproject.toml").read_text())
    assert deps and all("==" in d for d in deps)
    assert set(deps) <= set(pyproject["project"]["dependencies"])
    assert any(d.startswith("torch==") for d in deps)


class _FakeDict(dict):
    """modal.Dict's get/put, in memory."""

    def put(self, key, value, *, skip_if_exists=False):
        if skip_if_exists and key in self:
            return False
        self[key] = value
        return True


class _FakeCall:
    def __init__(self, call_id, outcome):
        self.object_id, self.outcome, self.cancelled = call_id, outcome, False

    def get(self, timeout=None):
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome

    def cancel(self, terminate_containers=False):
        self.cancelled = terminate_containers


def test_modal_spawner_maps_function_calls_to_the_contract_states(app_module, monkeypatch):
    from modal.exception import FunctionTimeoutError, NotFoundError

    calls = {
        "fc-running": _FakeCall("fc-running", TimeoutError()),
        "fc-done": _FakeCall("fc-done", {"artifacts": {}}),
        "fc-raised": _FakeCall("fc-raised", RuntimeError("CudaUnavailable: no GPU")),
        "fc-timeout": _FakeCall("fc-timeout", FunctionTimeoutError("3 h")),
        "fc-gone": _FakeCall("fc-gone", NotFoundError("no such call")),
    }
    spawned = []

    def spawn(payload):
        spawned.append(payload)
        return _FakeCall(f"fc-new-{len(spawned)}", TimeoutError())

    monkeypatch.setattr(app_module, "calls", _FakeDict())
    monkeypatch.setattr(app_module.modal.FunctionCall, "from_id", lambda call_id: calls[call_id])
    monkeypatch.setattr(app_module.train, "spawn", spawn)
    s = app_module.ModalSpawner()

    assert s.status("fc-running") == {"status": "running", "error": None}
    assert s.status("fc-done") == {"status": "completed", "error": None}
    assert s.status("fc-raised")["status"] == "failed" and "CudaUnavailable" in s.status("fc-raised")["error"]
    assert s.status("fc-timeout")["status"] == "failed"
    assert s.status("fc-gone") == {"status": "unknown", "error": None}

    first = s.spawn({"runId": "r1", "attempt": 1})
    assert s.spawn({"runId": "r1", "attempt": 1}) == first and len(spawned) == 1  # idempotent per attempt
    assert s.spawn({"runId": "r1", "attempt": 2}) != first and len(spawned) == 2

    assert s.cancel("fc-done") == {"cancelled": False, "status": "completed"}
    assert s.cancel("fc-running") == {"cancelled": True, "status": "cancelled"}
    assert calls["fc-running"].cancelled is True  # terminate_containers: the GPU container stops now
    assert s.status("fc-running") == {"status": "cancelled", "error": None}
