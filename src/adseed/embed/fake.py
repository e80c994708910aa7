"""A deterministic fake embedder for tests: no weights, stable vectors from content hashes.

Texts and images that share a word (a text, or a PNG ``tEXt`` keyword ``label``) land
close together, so retrieval logic can be tested end to end without a model.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from adseed.embed.base import normalize

if TYPE_CHECKING:
    from adseed.config import Settings


def _word_vector(word: str, dim: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(word.lower().encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


class FakeEmbedder:
    """Bag-of-words vectors; an image's words are its PNG ``label`` text or its bytes' hash."""

    def __init__(self, dim: int = 32) -> None:
        self.dim = dim
        self.model_id = f"fake-bow-{dim}"

    @classmethod
    def from_settings(cls, settings: Settings) -> FakeEmbedder:
        return cls()

    def _embed_words(self, text: str) -> np.ndarray:
        words = [w for w in text.lower().replace(",", " ").split() if w] or [""]
        return np.sum([_word_vector(w, self.dim) for w in words], axis=0)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        rows = [self._embed_words(t) for t in texts]
        return normalize(np.array(rows, dtype=np.float32).reshape(-1, self.dim))

    def embed_images(self, images: Sequence[bytes]) -> np.ndarray:
        rows = []
        for data in images:
            label = ""
            try:
                with Image.open(io.BytesIO(data)) as im:
                    label = str(im.info.get("label", ""))
            except Exception:  # noqa: BLE001 - a fake: unreadable bytes just hash
                label = ""
            rows.append(self._embed_words(label or hashlib.sha256(data).hexdigest()))
        return normalize(np.array(rows, dtype=np.float32).reshape(-1, self.dim))
