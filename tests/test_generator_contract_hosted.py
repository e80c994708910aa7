"""One contract for the replicate, openai and diffusers backends (the compositor has its own).

Every backend: is registered under its name in pyproject's ``adseed.generators`` entry
points, builds from Settings, returns PNG bytes of exactly the requested format for
all four formats, and refuses a non-image seed with InvalidInput before doing any work.
To merge into tests/test_generator_contract.py: add these three to its backend list.
"""

from __future__ import annotations

import importlib
import tomllib
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from adseed.config import resolve_settings
from adseed.errors import InvalidInput
from adseed.generate.base import FORMATS, AdRequest, Generator, parse_format

from stubs.clock import FakeClock
from stubs.images import brand_png, png_size, seed_jpeg
from stubs.openai_stub import KEY, OpenAIStub
from stubs.replicate_stub import TOKEN, ReplicateStub

BACKENDS = ["replicate", "openai", "diffusers"]
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


@pytest.fixture(scope="module")
def tiny_kontext_dir(tmp_path_factory) -> Path:
    pytest.importorskip("diffusers")
    from stubs.tiny_pipelines import save_tiny_kontext

    return save_tiny_kontext(tmp_path_factory.mktemp("contract-kontext"))


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path) -> Iterator[tuple[str, Generator, list]]:
    """(name, generator, the list of HTTP requests it made)."""
    name = request.param
    with ExitStack() as stack:
        values: dict = {"home": tmp_path / "ws", "request_timeout_s": 5.0}
        recorded: list = []
        if name == "replicate":
            stub = stack.enter_context(ReplicateStub())
            values |= {"replicate_api_token": TOKEN, "replicate_base_url": stub.url}
            recorded = stub.requests
        elif name == "openai":
            stub = stack.enter_context(OpenAIStub())
            values |= {"openai_api_key": KEY, "openai_base_url": f"{stub.url}/v1"}
            recorded = stub.requests
        else:
            model = request.getfixturevalue("tiny_kontext_dir")
            values |= {"diffusers_model": str(model), "diffusers_steps": 2,
                       "diffusers_resolution": 32}  # fmt: skip
        cls = _registered()[name]
        kwargs = {"clock": FakeClock()} if name != "diffusers" else {}
        yield name, cls.from_settings(resolve_settings(values, env={}), **kwargs), recorded


def _registered() -> dict[str, type]:
    table = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"]["adseed.generators"]
    classes = {}
    for name, target in table.items():
        module, _, attr = target.partition(":")
        if name in BACKENDS:
            classes[name] = getattr(importlib.import_module(module), attr)
    return classes


def test_registered_under_their_names() -> None:
    classes = _registered()
    assert sorted(classes) == sorted(BACKENDS)
    for name, cls in classes.items():
        assert cls.name == name
        assert callable(cls.from_settings)


def test_exact_png_for_every_format(backend) -> None:
    name, generator, _ = backend
    assert isinstance(generator, Generator)
    for fmt in FORMATS.values():
        request = AdRequest(seed_jpeg(), brand_png(), "dog owners who love hiking", fmt)
        assert png_size(generator.generate(request)) == ("PNG", (fmt.width, fmt.height)), name


def test_non_image_seed_is_refused_before_any_work(backend) -> None:
    _, generator, recorded = backend
    request = AdRequest(b"%PDF-1.7 not an image", brand_png(), "x", parse_format("1080x1080"))
    with pytest.raises(InvalidInput, match="seed image"):
        generator.generate(request)
    assert recorded == []
