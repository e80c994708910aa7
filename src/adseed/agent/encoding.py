"""The sentence model the offline chat model reads with: MiniLM, shared by the process.

It is the plain-PyTorch MiniLM already in the package (``adseed.embed.minilm``), not
the workspace's embedder: intents and personas are about *language*, and must not
change when a workspace switches its image embedder to CLIP or the test fake.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

import numpy as np


class TextEncoder(Protocol):
    vocabulary: set[str]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Texts → unit vectors, one row each."""
        ...


class MiniLMTextEncoder:
    """SentenceEncoder behind a lock (torch modules are not re-entrant across threads)."""

    def __init__(self) -> None:
        from adseed.embed.minilm import SentenceEncoder

        self._model = SentenceEncoder()
        self._lock = threading.Lock()
        vocab = self._model.tokenizer.get_vocab()
        self.vocabulary = {w for w in vocab if w.isalpha()}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return self._model.encode(list(texts))


@lru_cache(maxsize=1)
def shared_minilm() -> MiniLMTextEncoder:
    """One MiniLM per process: ~90 MB of weights, loaded on first use."""
    return MiniLMTextEncoder()
