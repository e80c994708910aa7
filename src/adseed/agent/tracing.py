"""MLflow tracing into the workspace's own tracking store.

Every agent turn is one trace; its spans are the policy step, the chat model, the
tool call and (inside the generation service) retrieval and generation. Traces go to
``<home>/mlflow.db`` (SQLite: MLflow 3 refuses new file stores), exported
asynchronously by MLflow, so a turn pays well under a millisecond for them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adseed.config import Settings

EXPERIMENT = "adseed"
_lock = threading.Lock()
_current: list[str] = []


def tracking_uri(settings: Settings) -> str:
    return f"sqlite:///{settings.home / 'mlflow.db'}"


def use_workspace_store(settings: Settings) -> str:
    """Point MLflow (process-wide) at this workspace's store; cheap when already there."""
    import mlflow

    uri = tracking_uri(settings)
    with _lock:
        if _current != [uri] or mlflow.get_tracking_uri() != uri:
            mlflow.set_tracking_uri(uri)
            mlflow.set_experiment(EXPERIMENT)
            _current[:] = [uri]
    return uri


@contextmanager
def span(name: str, span_type: str = "UNKNOWN", inputs: Any = None) -> Iterator[Any]:
    """One MLflow span (a child of the active trace, or a new trace)."""
    import mlflow

    with mlflow.start_span(name=name, span_type=span_type) as live:
        if inputs is not None:
            live.set_inputs(inputs)
        yield live
