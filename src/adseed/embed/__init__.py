"""Embedders: images and texts into one vector space (ConSE offline default, CLIP, a fake)."""

from adseed.embed.base import Embedder, available_embedders, build_embedder, normalize

__all__ = ["Embedder", "available_embedders", "build_embedder", "normalize"]
