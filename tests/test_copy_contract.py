"""One contract suite, run against every copy writer (the chat one through the local stub)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from adseed.config import resolve_settings
from adseed.copy.base import CopyWriter, available_writers, build_writer, problems
from adseed.copy.brief import parse_brief
from adseed.copy.placements import PLACEMENTS

from stubs.chat_stub import serve

BRIEF = parse_brief({
    "product": "Stillwater Ceramic Cat Fountain",
    "brand": "Whisker & Co",
    "benefits": ["Whisper-quiet pump", "Replaceable carbon filter", "Holds two litres"],
    "audience": "indoor cat owners",
    "must_avoid": ["miracle", "plastic"],
})


@pytest.fixture(params=["template", "openai"])
def make_writer(request, tmp_path) -> Iterator[Callable[[], CopyWriter]]:
    with serve() as stub:
        settings = resolve_settings({"home": tmp_path, "copy_base_url": stub.base_url}, env={})
        yield lambda: build_writer(request.param, settings)


def test_both_writers_are_registered() -> None:
    assert {"template", "openai"} <= set(available_writers())


@pytest.mark.parametrize("placement", list(PLACEMENTS))
def test_variants_meet_the_contract(make_writer, placement: str) -> None:
    target = PLACEMENTS[placement]
    variants = make_writer().write(BRIEF, target, 3, 0)
    assert len(variants) == 3
    assert problems(variants, BRIEF, target) == []


def test_same_inputs_same_copy_and_a_stable_writer_id(make_writer) -> None:
    first, second = make_writer(), make_writer()
    assert first.writer_id == second.writer_id and first.writer_id.startswith(first.name)
    placement = PLACEMENTS["story"]
    assert first.write(BRIEF, placement, 2, 3) == second.write(BRIEF, placement, 2, 3)
