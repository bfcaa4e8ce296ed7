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
    return dict(zip(code.__code__.co_freevars, (c.cell_contents for c in code.__closure__)))


def test_the_sdk_is_the_real_one_not_our_folder():
    assert hasattr(modal, "App") and "site-packages" in modal.__file__


def test_one_app_with_the_expected_functions(app_module):
    assert app_module.app.name == "digital-twin"
    assert set(_functions(app_module.app)) == {"train", "web", "prepare_base_model"}


@pytest.mark.parametrize("name", ["train", "web", "prepare_base_model"])
def test_every_function_gets_gpu_volume_secret_and_region(app_module, name):
    from modal._utils.async_utils import synchronizer

    spec = synchronizer._translate_in(_functions(app_module.app)[name])._spec
    assert spec.gpus == "L4"
    assert {str(k): v.name for k, v in spec.volumes.items()} == {"/cache": "digital-twin-models"}
    assert [s.name for s in spec.secrets] == ["digital-twin"]
    assert list(spec.scheduler_placement.regions) == ["us-west-1"]


def test_training_function_has_a_long_timeout_and_no_retries(app_module):
    opts = _closure(_functions(app_module.app)["train"])
    assert opts["timeout"] == 3 * 60 * 60
    assert opts["retry_policy"] is None or opts["retry_policy"].retries == 0
    assert opts["webhook_config"] is None


def test_web_function_is_an_asgi_app_with_concurrency(app_module):
    from modal_proto import api_pb2

    opts = _closure(_functions(app_module.app)["web"])
    assert opts["webhook_config"].type == api_pb2.WEBHOOK_TYPE_ASGI_APP
    assert opts["timeout"] == 600
    assert opts["max_concurrent_inputs"] == 8
    assert opts["scaledown_window"] == 300


def test_image_installs_the_pinned_dependencies(app_module):
    import tomllib
    from pathlib import Path

    deps = app_module._pinned_dependencies()
    pyproject = tomllib.loads((Path(app_module.__file__).parent.parent / "pyproject.toml").read_text())
    assert deps and all("==" in d for d in deps)
    assert set(deps) <= set(pyproject["project"]["dependencies"])
    assert any(d.startswith("torch==") for d in deps)
