"""What the audience service hands back: matches, what a refresh did, an ingest's outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adseed.audience.events import Rejection


@dataclass(frozen=True)
class Match:
    """One user and its cosine similarity to the query (higher is closer)."""

    user_id: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "score": round(self.score, 4)}


@dataclass
class Refresh:
    """What bringing the index up to date did."""

    events: int = 0  # events folded in
    users: int = 0  # user vectors written
    rebuilt: str = ""  # why the index was rebuilt from the tables, if it was


@dataclass
class EventIngest:
    """The outcome of one ingest: counts, every rejection, and what was folded in."""

    source: str
    accepted: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    duplicate: bool = False
    refresh: Refresh = field(default_factory=Refresh)

    def summary(self) -> str:
        if self.duplicate:
            return f"{self.source}: already ingested (same content), nothing to do"
        line = f"ingested {self.accepted} events, rejected {len(self.rejections)}"
        line += f"; {self.refresh.users} user vectors updated"
        return line + (f" (index rebuilt: {self.refresh.rebuilt})" if self.refresh.rebuilt else "")
