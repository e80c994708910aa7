"""Request traces in the workspace's own MLflow tracking store: one module, one trace per request.

Two ways to record spans, one trace per request either way:

* **live** (:func:`span`): the agent turn opens MLflow spans as it goes; MLflow exports
  the finished trace from its background queue. :func:`use_workspace_store` points the
  process at the workspace's store first, unless the host process chose its own.
* **recorded** (:class:`Trace`): the generation service records its spans in memory (a
  few microseconds each) and hands the finished tree to :meth:`TraceStore.record`,
  which picks the cheapest place that keeps one trace per request:

  1. inside an active MLflow span (the agent's tool call): the tree becomes *children of
     that span*, with its real start and end times, and the request's id the turn
     trace's id. One trace per turn; nothing is written on the request path.
  2. the process already exports to this store because :func:`use_workspace_store`
     pointed it there (``adseed serve`` does at start-up): a trace of its own, exported
     by MLflow's background queue like the agent's.
  3. otherwise (the CLI, a library caller with their own tracking URI or none): written
     synchronously, the process-wide tracking URI borrowed for the write only, under a
     lock, and restored at once, so a user's own ``mlflow.set_tracking_uri`` is left as
     they set it (MLflow's live API exports to the *process-wide* URI).

The store defaults to ``sqlite:///<home>/mlflow.db`` (``tracking_uri`` overrides), with
the experiment ``adseed`` keeping its artifacts in ``<home>/mlflow-artifacts``, so
nothing lands in the current directory. Spans carry paths, scores and sizes, never
image bytes. ``mlflow`` is imported only when a trace is written or read, so
``import adseed`` stays fast.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adseed.errors import StateError

if TYPE_CHECKING:
    from adseed.config import Settings

EXPERIMENT = "adseed"
_LOCK = threading.Lock()  # the tracking URI is process-wide: one writer at a time
_ours: set[str] = set()  # tracking URIs use_workspace_store set (workspace stores)
_experiments: dict[str, str] = {}  # tracking URI → id of its "adseed" experiment
_ASYNC_ENV = "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"
# How MLflow's background export batches, when adseed owns the process's tracing (see
# use_workspace_store). MLflow's defaults export every 5 spans, i.e. twice in the middle
# of a ~12-span agent turn, and each export is ~60 SQL statements (~25 ms of CPU) on 2
# cores; one export per 100 ms, one worker (SQLite has one writer anyway), lets a turn's
# spans go out together just after the turn instead of competing with it.
EXPORT_DEFAULTS = {
    "MLFLOW_ASYNC_TRACE_LOGGING_MAX_SPAN_BATCH_SIZE": "512",
    "MLFLOW_ASYNC_TRACE_LOGGING_MAX_INTERVAL_MILLIS": "100",
    "MLFLOW_ASYNC_TRACE_LOGGING_MAX_WORKERS": "1",
}
_QUIET = ("mlflow.store.db.utils", "alembic", "alembic.runtime.migration")
log = logging.getLogger("adseed.tracing")


@dataclass
class SpanRecord:
    """One span as recorded in memory: what went in, what came out, how long it took."""

    name: str
    inputs: dict[str, Any]
    span_type: str = "UNKNOWN"
    outputs: dict[str, Any] | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    start_ns: int = field(default_factory=time.time_ns)
    end_ns: int | None = None
    error: str | None = None
    children: list[SpanRecord] = field(default_factory=list)

    def set_outputs(self, **outputs: Any) -> None:
        self.outputs = {**(self.outputs or {}), **outputs}

    def set_attributes(self, **attributes: Any) -> None:
        self.attributes.update(attributes)

    @property
    def duration_ms(self) -> float | None:
        return None if self.end_ns is None else (self.end_ns - self.start_ns) / 1e6


class Trace:
    """The span tree of one request, built while it runs; nothing is written until the end."""

    def __init__(self, name: str, inputs: Mapping[str, Any], span_type: str = "CHAIN") -> None:
        self.root = SpanRecord(name, dict(inputs), span_type)
        self.tags: dict[str, str] = {}  # trace tags: searchable with mlflow.search_traces
        self._stack = [self.root]

    @contextmanager
    def span(
        self, name: str, inputs: Mapping[str, Any] | None = None, span_type: str = "UNKNOWN"
    ) -> Iterator[SpanRecord]:
        """A child of the innermost open span; an exception marks it failed and propagates."""
        record = SpanRecord(name, dict(inputs or {}), span_type)
        self._stack[-1].children.append(record)
        self._stack.append(record)
        try:
            yield record
        except BaseException as exc:
            record.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            record.end_ns = time.time_ns()
            self._stack.pop()

    def finish(self, outputs: Mapping[str, Any] | None = None, error: str | None = None) -> None:
        self.root.outputs = dict(outputs) if outputs is not None else self.root.outputs
        self.root.error = error
        self.root.end_ns = time.time_ns()

    def find(self, name: str) -> SpanRecord | None:
        """The first span called ``name``, depth first (for callers that report timings)."""
        todo = [self.root]
        while todo:
            record = todo.pop(0)
            if record.name == name:
                return record
            todo[:0] = record.children
        return None


def tracking_uri(settings: Settings) -> str:
    """The workspace's tracking store: ``tracking_uri`` if set, else ``<home>/mlflow.db``."""
    return str(getattr(settings, "tracking_uri", "") or "") or default_tracking_uri(settings.home)


def default_tracking_uri(home: Path) -> str:
    return f"sqlite:///{(home / 'mlflow.db').resolve()}"


def use_workspace_store(settings: Settings) -> str:
    """Point MLflow at this workspace's store, unless the host process chose its own.

    MLflow's tracking URI is process-wide. A process that set it itself (an MLflow run
    logging the agent, ``mlflow models serve`` with ``MLFLOW_TRACKING_URI``) keeps it
    and gets the traces there; otherwise, and whenever the URI is one this function set
    for another workspace, traces go to this workspace's store. Taking over also fills
    in :data:`EXPORT_DEFAULTS` for MLflow's background export (``setdefault``: values
    the environment already has are kept).
    """
    import mlflow
    from mlflow.tracking._tracking_service.utils import is_tracking_uri_set

    uri = tracking_uri(settings)
    with _LOCK:
        current = mlflow.get_tracking_uri()
        if current == uri or (is_tracking_uri_set() and current not in _ours):
            return current
        for key, value in EXPORT_DEFAULTS.items():
            os.environ.setdefault(key, value)
        with _quiet_store_setup():
            experiment_id = _experiment_id(uri, artifact_root(settings))
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(experiment_id=experiment_id)
        _ours.add(uri)
    return uri


@contextmanager
def span(name: str, span_type: str = "UNKNOWN", inputs: Any = None) -> Iterator[Any]:
    """One live MLflow span (a child of the active trace, or a new trace)."""
    import mlflow

    with mlflow.start_span(name=name, span_type=span_type) as live:
        if inputs is not None:
            live.set_inputs(inputs)
        yield live


def artifact_root(settings: Settings) -> Path | None:
    """Trace artifacts beside a sqlite store; other stores choose their own location."""
    if getattr(settings, "tracking_uri", ""):
        return _artifacts_beside(str(settings.tracking_uri))
    return settings.home / "mlflow-artifacts"


class TraceStore:
    """Hands finished :class:`Trace` trees to MLflow (see the module docstring) and reads them."""

    def __init__(self, uri: str, artifact_root: Path | None = None) -> None:
        self.uri = uri
        self.artifact_root = artifact_root

    @classmethod
    def for_settings(cls, settings: Any) -> TraceStore:
        return cls(tracking_uri(settings), artifact_root(settings))

    def record(self, trace: Trace) -> str | None:
        """Record the trace where it belongs; returns the MLflow trace id it is part of.

        None when tracing is switched off in this process (``mlflow.tracing.disable()``).
        """
        import mlflow  # (a plain import: it waits for another thread's import to finish)
        from mlflow.tracing.provider import is_tracing_enabled
        from mlflow.tracking import is_tracking_uri_set

        if trace.root.end_ns is None:
            trace.finish()
        if not is_tracing_enabled():
            return None
        parent = mlflow.get_current_active_span()
        if parent is not None:
            _replay(trace, parent)
            mlflow.update_current_trace(tags=trace.tags)
            return str(parent.trace_id)
        with _LOCK:  # never while write() borrows the URI, nor while another store's does
            ours = self.uri in _ours and is_tracking_uri_set()
            if ours and mlflow.get_tracking_uri() == self.uri:
                return _replay(trace, None, self._experiment())
        return self.write(trace)

    def write(self, trace: Trace) -> str:
        """Write the trace as one trace of its own, synchronously; returns its id (``tr-…``)."""
        import mlflow
        from mlflow.tracking import is_tracking_uri_set

        if trace.root.end_ns is None:
            trace.finish()
        with _LOCK, _quiet_store_setup(), _synchronous_export():
            previous = mlflow.get_tracking_uri() if is_tracking_uri_set() else None
            experiment_id = _experiment_id(self.uri, self.artifact_root)
            mlflow.set_tracking_uri(self.uri)
            try:
                return _replay(trace, None, experiment_id)
            except Exception:
                _experiments.pop(self.uri, None)  # e.g. the experiment was deleted meanwhile
                raise
            finally:
                mlflow.set_tracking_uri(previous)  # type: ignore[arg-type]  # None unsets

    def _experiment(self) -> str:
        with _quiet_store_setup():
            return _experiment_id(self.uri, self.artifact_root)

    def spans(self, trace_id: str) -> list[dict[str, Any]]:
        """The spans of a stored trace as plain dicts (name, parent, inputs, outputs, …).

        Waits for MLflow's background export first, so a trace recorded a moment ago
        in this process is readable.
        """
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        with _quiet_store_setup():
            try:
                trace = MlflowClient(self.uri).get_trace(trace_id, flush=True)
            except MlflowException as exc:
                raise StateError(f"no trace {trace_id} in {self.uri}: {exc}") from exc
        if trace is None:
            raise StateError(f"no trace {trace_id} in {self.uri}")
        names = {s.span_id: s.name for s in trace.data.spans}
        return [
            {
                "name": s.name,
                "parent": names.get(s.parent_id),
                "inputs": s.inputs,
                "outputs": s.outputs,
                "attributes": {
                    k: v for k, v in s.attributes.items() if not k.startswith("mlflow.")
                },
                "status": str(s.status.status_code),
            }
            for s in trace.data.spans
        ]


def _replay(trace: Trace, parent: Any, experiment_id: str | None = None) -> str:
    """Re-create the recorded tree as MLflow spans with their real times; returns the trace id.

    Under ``parent`` (a live span) the tree joins that trace; without one it starts a
    trace of its own in ``experiment_id`` carrying the trace's tags.
    """
    import mlflow

    root = trace.root
    live = mlflow.start_span_no_context(
        root.name, span_type=root.span_type, parent_span=parent, inputs=root.inputs,
        attributes=_attrs(root), tags=None if parent else dict(trace.tags),
        experiment_id=None if parent else experiment_id, start_time_ns=root.start_ns,
    )  # fmt: skip
    _children(live, root.children)
    live.end(outputs=root.outputs, attributes=_attrs(root), status=_status(root),
             end_time_ns=root.end_ns)  # fmt: skip
    return str(live.trace_id)


def _children(parent: Any, records: list[SpanRecord]) -> None:
    import mlflow

    for record in records:
        live = mlflow.start_span_no_context(
            record.name, span_type=record.span_type, parent_span=parent, inputs=record.inputs,
            attributes=_attrs(record), start_time_ns=record.start_ns,
        )  # fmt: skip
        _children(live, record.children)
        live.end(outputs=record.outputs, attributes=_attrs(record), status=_status(record),
                 end_time_ns=record.end_ns)  # fmt: skip


def _status(record: SpanRecord) -> str:
    return "ERROR" if record.error else "OK"


def _attrs(record: SpanRecord) -> dict[str, Any]:
    out = dict(record.attributes)
    if record.error:
        out["error"] = record.error
    return out


def _experiment_id(uri: str, artifact_root: Path | None) -> str:
    """The id of the ``adseed`` experiment in the store at ``uri``, created on first use.

    Cached per URI: looking it up is a query (~9 ms on 2 cores) on every request otherwise.
    """
    if uri in _experiments:
        return _experiments[uri]
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    found = client.get_experiment_by_name(EXPERIMENT)
    if found is None:
        location = artifact_root.resolve().as_uri() if artifact_root else None
        try:
            found_id = str(client.create_experiment(EXPERIMENT, artifact_location=location))
        except Exception:  # noqa: BLE001 - another process created it first
            found = client.get_experiment_by_name(EXPERIMENT)
            if found is None:
                raise
            found_id = str(found.experiment_id)
    else:
        found_id = str(found.experiment_id)
    _experiments[uri] = found_id
    return found_id


def _artifacts_beside(uri: str) -> Path | None:
    prefix = "sqlite:///"
    return Path(uri[len(prefix) :]).parent / "mlflow-artifacts" if uri.startswith(prefix) else None


@contextmanager
def _synchronous_export() -> Iterator[None]:
    """Export while the write runs, not from MLflow's background queue.

    The write swaps the tracking URI, which rebuilds MLflow's exporter; with the queue,
    flushing it and retiring that exporter each wait about a second. Written
    synchronously, the trace is in the store when :meth:`TraceStore.write` returns.
    """
    previous = os.environ.get(_ASYNC_ENV)
    os.environ[_ASYNC_ENV] = "false"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(_ASYNC_ENV, None)
        else:
            os.environ[_ASYNC_ENV] = previous


@contextmanager
def _quiet_store_setup() -> Iterator[None]:
    """Creating the sqlite store logs its schema migrations at INFO: not our users' business."""
    loggers = [logging.getLogger(name) for name in _QUIET]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
