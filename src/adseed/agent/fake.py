"""A deterministic keyword chat model for tests: no weights, instant, exact.

It exists so the policy, sessions, endpoints and app can be tested in the fast tier;
the persona model (real MiniLM) has its own tests, marked slow.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from adseed.agent.chat import Brief, Intent, Proposal, ReadContext, Reading
from adseed.agent.copyask import benefits_in, placement_in

if TYPE_CHECKING:
    from adseed.config import Settings

SETTINGS = ("in a park", "on a beach", "in the snow", "in a kitchen", "on a sofa")
PETS = ("cat", "dog")
PRODUCTS = ("puppy food bag", "cat food bag", "dog toy")
_ACCEPT = {"yes", "ok", "sure", "great", "perfect", "yep"}
_REJECT = {"no", "not", "nope", "another", "next"}
_COPY = {"copy", "headline", "slogan"}


class FakeChatModel:
    name = "fake"

    @classmethod
    def from_settings(cls, settings: Settings) -> FakeChatModel:
        return cls()

    def propose(self, brief: Brief) -> Proposal | None:
        words = re.findall(r"[a-z]+", brief.segment.lower())
        if len(words) < 2:
            return None
        pet = brief.pet or ("cat" if "cat" in words or "cats" in words else "dog")
        settings = [brief.setting] if brief.setting else list(SETTINGS)
        for setting in settings + list(SETTINGS):
            proposal = Proposal(pet, setting, f"a {pet} suits {brief.segment}", "fake")
            if proposal.prompt not in brief.avoid:
                return proposal
        return Proposal(pet, settings[0], "nothing new left", "fake")

    def read(self, reply: str, context: ReadContext) -> Reading:
        text = reply.lower()
        words = set(re.findall(r"[a-z]+", text))
        if "start over" in text:
            return Reading(Intent.RESTART)
        found: dict[str, str] = {}
        for product in PRODUCTS:
            if product in text:
                found["product"] = product
                text = text.replace(product, "")
        if words & _COPY:
            return Reading(
                Intent.COPY, product=found.get("product"), benefits=benefits_in(reply),
                placement=placement_in(reply),
            )  # fmt: skip
        words = set(re.findall(r"[a-z]+", text))
        for pet in PETS:
            if pet in words and pet not in context.prompt:
                found["pet"] = pet
        for setting in SETTINGS:
            if setting.split()[-1] in words:
                found["setting"] = setting
        if found:
            return Reading(
                Intent.REDIRECT, pet=found.get("pet"), setting=found.get("setting"),
                product=found.get("product"),
            )  # fmt: skip
        if words & _REJECT:
            return Reading(Intent.REJECT)
        if words & _ACCEPT:
            return Reading(Intent.ACCEPT)
        return Reading(Intent.UNCLEAR)
