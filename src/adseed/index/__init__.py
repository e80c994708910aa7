"""The vector index stage: LanceDB tables synced from Delta by version, and text search."""

from adseed.index.search import Hit, SearchResult, search
from adseed.index.store import VectorIndex, Watermark
from adseed.index.sync import SyncReport, rebuild, sync_index

__all__ = [
    "Hit",
    "SearchResult",
    "SyncReport",
    "VectorIndex",
    "Watermark",
    "rebuild",
    "search",
    "sync_index",
]
