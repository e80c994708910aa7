"""The offline default embedder with its real packaged weights (a few seconds on first use)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adseed.embed.conse import ConSEEmbedder, QueryExpander, label_texts, top_t_mixture
from adseed.errors import RejectedFile

pytestmark = pytest.mark.slow

skimage_data = pytest.importorskip("skimage").data
PHOTOS = Path(skimage_data.__file__).parent


@pytest.fixture(scope="module")
def conse() -> ConSEEmbedder:
    return ConSEEmbedder(Path("~/.cache/adseed").expanduser(), threads=0, batch_size=4)


def test_label_texts_cover_imagenet() -> None:
    texts = label_texts()
    assert len(texts) == 1000
    assert texts[151].startswith("Chihuahua: ")
    assert all(t for t in texts)


def test_query_expander_matches_whole_words_only() -> None:
    expand = QueryExpander({"bengal": "a spotted cat", "maine coon": "a big long-haired cat"})
    assert expand("a photo of a Bengal") == "a photo of a Bengal, a spotted cat"
    assert expand("Bengali food lovers") == "Bengali food lovers"
    assert expand("a MAINE COON and a bengal").endswith("a big long-haired cat; a spotted cat")


def test_top_t_mixture_is_a_convex_combination() -> None:
    classes = np.eye(4, dtype=np.float32)
    probs = np.array([[0.5, 0.3, 0.15, 0.05]], dtype=np.float32)
    mixed = top_t_mixture(probs, classes, t=2)
    expected = np.array([0.625, 0.375, 0, 0]) / np.linalg.norm([0.625, 0.375])
    np.testing.assert_allclose(mixed[0], expected, atol=1e-6)


def test_photos_land_near_their_description(conse: ConSEEmbedder) -> None:
    names = ["chelsea.png", "coffee.png", "rocket.jpg", "astronaut.png", "motorcycle_left.png"]
    images = conse.embed_images([(PHOTOS / n).read_bytes() for n in names])
    texts = conse.embed_texts(
        ["a photo of a cat", "a cup of coffee", "a rocket launch", "an astronaut", "a motorbike"]
    )
    assert images.shape == (5, conse.dim) and images.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1.0, atol=1e-5)
    # each text's nearest photo is its own photo
    assert list(np.argmax(texts @ images.T, axis=1)) == [0, 1, 2, 3, 4]


def test_class_vectors_are_cached_on_disk(conse: ConSEEmbedder) -> None:
    vectors = conse.class_vectors
    cached = list(conse.cache_dir.glob("conse-labels-*.npy"))
    assert any(np.array_equal(np.load(path), vectors) for path in cached)
    assert vectors.shape == (1000, conse.dim)


def test_undecodable_bytes_are_rejected(conse: ConSEEmbedder) -> None:
    with pytest.raises(RejectedFile, match="cannot decode"):
        conse.embed_images([b"GIF89a not really"])


def test_a_few_texts_run_single_threaded_with_the_same_vectors(conse: ConSEEmbedder) -> None:
    """Queries take the one-thread ONNX Runtime path, batches torch's: same space, to 1e-5."""
    from adseed.embed.minilm import SMALL_BATCH

    texts = ["a dog in a park", "people who want a tiny dog they can carry in a handbag", "x"]
    assert len(texts) <= SMALL_BATCH < len(texts * 2)
    small = conse.sentences.encode(texts)
    batch = conse.sentences.encode(texts * 2)[: len(texts)]  # padded to the longest text
    np.testing.assert_allclose(small, batch, atol=1e-5)
    assert conse.sentences._single.get_session_options().intra_op_num_threads == 1
    assert list(conse.cache_dir.glob("minilm-*.onnx"))
