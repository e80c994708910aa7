"""Audiences from behaviour: events → user vectors (FAISS) → lookalikes, text matches, segments.

``Audience.open(workspace)`` is the entry point; :func:`segment_text` hands a segment's
description to the creative flow.
"""

from adseed.audience.results import EventIngest, Match
from adseed.audience.segments import discover_segments, list_segments, segment_text
from adseed.audience.service import Audience

__all__ = [
    "Audience",
    "EventIngest",
    "Match",
    "discover_segments",
    "list_segments",
    "segment_text",
]
