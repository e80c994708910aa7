"""MLflow tracing into the workspace's own tracking store.

Every agent turn is one trace; its spans are the policy step, the chat model, the
tool call and (inside the generation service) retrieval and generation. Traces go to
``<home>/mlflow.db`` (SQLite: MLflow 3 refuses new file stores), exported
asynchronously by MLflow, so a turn pays well under a millisecond for them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adseed.config import Settings

EXPERIMENT = "adseed"
_lock = threading.Lock()
_ours: set[str] = set()  # tracking URIs this module set (workspace stores)


def tracking_uri(settings: Settings) -> str:
    return f"sqlite:///{settings.home / 'mlflow.db'}"


def use_workspace_store(settings: Settings) -> str:
    """Point MLflow at this workspace's store, unless the host process chose its own.

    MLflow's tracking URI is process-wide. A process that set it itself (an MLflow run
    logging this agent, ``mlflow models serve`` with ``MLFLOW_TRACKING_URI``) keeps it
    and gets the traces there; otherwise, and whenever the URI is one this module set
    for another workspace, traces go to this workspace's ``mlflow.db``.
    """
    import mlflow
    from mlflow.tracking._tracking_service.utils import is_tracking_uri_set

    uri = tracking_uri(settings)
    with _lock:
        current = mlflow.get_tracking_uri()
        if current == uri or (is_tracking_uri_set() and current not in _ours):
            return current
        mlflow.set_tracking_uri(uri)
        _ensure_experiment(settings)
        mlflow.set_experiment(EXPERIMENT)
        _ours.add(uri)
    return uri


def _ensure_experiment(settings: Settings) -> None:
    """Create the experiment with its artifacts (trace bodies) inside the workspace: by
    default MLflow would put them in ``./mlruns`` of whatever folder the process runs in."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri(settings))
    if client.get_experiment_by_name(EXPERIMENT) is None:
        location = (settings.home / "mlartifacts").as_uri()
        with suppress(MlflowException):  # created meanwhile by another process
            client.create_experiment(EXPERIMENT, artifact_location=location)


@contextmanager
def span(name: str, span_type: str = "UNKNOWN", inputs: Any = None) -> Iterator[Any]:
    """One MLflow span (a child of the active trace, or a new trace)."""
    import mlflow

    with mlflow.start_span(name=name, span_type=span_type) as live:
        if inputs is not None:
            live.set_inputs(inputs)
        yield live
