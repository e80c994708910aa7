"""One contract, every generation backend that runs offline.

Every backend: is registered under its own name in pyproject's ``adseed.generators``
entry points and builds from Settings; returns PNG bytes of exactly the requested
format for all four formats; refuses a non-image seed or brand with InvalidInput
naming which, before any work (no HTTP request reaches a provider stub).

Hosted backends run against local stub servers that speak the providers' wire
formats; ``diffusers`` runs a tiny randomly initialised pipeline built in the test.
Adding a backend is one line in ``BACKENDS``: its name and a factory.
"""

from __future__ import annotations

import importlib
import tomllib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from adseed.config import resolve_settings
from adseed.errors import InvalidInput
from adseed.generate.base import FORMATS, AdRequest, Generator, parse_format

from stubs.clock import FakeClock
from stubs.images import brand_png, png_size, seed_jpeg

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
Factory = Callable[[pytest.FixtureRequest, dict, ExitStack], tuple[dict, dict, list]]


def _compositor(request, values, stack):
    return values, {}, []


def _replicate(request, values, stack):
    from stubs.replicate_stub import TOKEN, ReplicateStub

    stub = stack.enter_context(ReplicateStub())
    values |= {"replicate_api_token": TOKEN, "replicate_base_url": stub.url}
    return values, {"clock": FakeClock()}, stub.requests


def _openai(request, values, stack):
    from stubs.openai_stub import KEY, OpenAIStub

    stub = stack.enter_context(OpenAIStub())
    values |= {"openai_api_key": KEY, "openai_base_url": f"{stub.url}/v1"}
    return values, {"clock": FakeClock()}, stub.requests


def _diffusers(request, values, stack):
    model = request.getfixturevalue("tiny_kontext_dir")
    values |= {"diffusers_model": str(model), "diffusers_steps": 2, "diffusers_resolution": 32}
    return values, {}, []


BACKENDS: dict[str, Factory] = {
    "compositor": _compositor,
    "replicate": _replicate,
    "openai": _openai,
    "diffusers": _diffusers,
}


@pytest.fixture(scope="module")
def tiny_kontext_dir(tmp_path_factory) -> Path:
    pytest.importorskip("diffusers")
    from stubs.tiny_pipelines import save_tiny_kontext

    return save_tiny_kontext(tmp_path_factory.mktemp("contract-kontext"))


@pytest.fixture(params=list(BACKENDS))
def backend(request, tmp_path) -> Iterator[tuple[str, Generator, list]]:
    """(name, generator, the list of HTTP requests it made)."""
    name = request.param
    with ExitStack() as stack:
        values: dict[str, Any] = {"home": tmp_path / "ws", "request_timeout_s": 5.0}
        values, kwargs, recorded = BACKENDS[name](request, values, stack)
        cls = _registered()[name]
        yield name, cls.from_settings(resolve_settings(values, env={}), **kwargs), recorded


def _registered() -> dict[str, type]:
    table = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"]["adseed.generators"]
    classes = {}
    for name, target in table.items():
        module, _, attr = target.partition(":")
        classes[name] = getattr(importlib.import_module(module), attr)
    return classes


def test_every_registered_backend_is_in_the_contract() -> None:
    assert sorted(_registered()) == sorted(BACKENDS)


def test_registered_under_their_names() -> None:
    for name, cls in _registered().items():
        assert cls.name == name
        assert callable(cls.from_settings)


def test_exact_png_for_every_format(backend) -> None:
    name, generator, _ = backend
    assert isinstance(generator, Generator)
    for fmt in FORMATS.values():
        request = AdRequest(seed_jpeg(), brand_png(), "dog owners who love hiking", fmt)
        assert png_size(generator.generate(request)) == ("PNG", (fmt.width, fmt.height)), name


@pytest.mark.parametrize("which", ["seed", "brand"])
def test_non_image_input_is_refused_before_any_work(backend, which: str) -> None:
    _, generator, recorded = backend
    seed, brand = seed_jpeg(), brand_png()
    if which == "seed":
        seed = b"%PDF-1.7 not an image"
    else:
        brand = b"%PDF-1.7 not an image"
    request = AdRequest(seed, brand, "x", parse_format("1080x1080"))
    with pytest.raises(InvalidInput, match=f"{which} image"):
        generator.generate(request)
    assert recorded == []
