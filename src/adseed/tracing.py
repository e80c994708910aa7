"""Request traces in the workspace's own MLflow tracking store.

A request records its spans in memory while it runs (:class:`Trace`, no MLflow involved,
a few microseconds per span) and :class:`TraceStore` writes the whole tree to MLflow
once, at the end, with the real start and end times. Why not MLflow's live tracing
API (``mlflow.start_span``)? It exports to the *process-wide* tracking URI, so using
it would point the caller's whole process (their own runs and traces included) at the
adseed workspace for as long as a request runs. Writing afterwards needs that URI only
for the few milliseconds of the write, under a lock, and it is restored at once: a
user's own ``mlflow.set_tracking_uri`` is left as they set it.

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
from typing import Any

from adseed.errors import StateError

EXPERIMENT = "adseed"
_LOCK = threading.Lock()  # the tracking URI is process-wide: one writer at a time
_ASYNC_ENV = "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"
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


def default_tracking_uri(home: Path) -> str:
    return f"sqlite:///{(home / 'mlflow.db').resolve()}"


class TraceStore:
    """Writes finished :class:`Trace` trees into one MLflow tracking store and reads them back."""

    def __init__(self, uri: str, artifact_root: Path | None = None) -> None:
        self.uri = uri
        self.artifact_root = artifact_root

    @classmethod
    def for_settings(cls, settings: Any) -> TraceStore:
        uri = str(getattr(settings, "tracking_uri", "") or "")
        if uri:
            return cls(uri, _artifacts_beside(uri))
        return cls(default_tracking_uri(settings.home), settings.home / "mlflow-artifacts")

    def write(self, trace: Trace) -> str:
        """Write the trace; returns its MLflow trace id (``tr-…``)."""
        import mlflow
        from mlflow import MlflowClient
        from mlflow.tracking import is_tracking_uri_set

        if trace.root.end_ns is None:
            trace.finish()
        with _LOCK, _quiet_store_setup(), _synchronous_export():
            previous = mlflow.get_tracking_uri() if is_tracking_uri_set() else None
            mlflow.set_tracking_uri(self.uri)
            try:
                client = MlflowClient(self.uri)
                return self._replay(client, self._experiment_id(client), trace)
            finally:
                mlflow.set_tracking_uri(previous)  # type: ignore[arg-type]  # None unsets

    def _replay(self, client: Any, experiment_id: str, trace: Trace) -> str:
        root = trace.root
        live = client.start_trace(
            root.name, span_type=root.span_type, inputs=root.inputs, attributes=_attrs(root),
            tags=trace.tags, experiment_id=experiment_id, start_time_ns=root.start_ns,
        )  # fmt: skip
        self._children(client, live.trace_id, live.span_id, root.children)
        client.end_trace(
            live.trace_id, outputs=root.outputs, attributes=_attrs(root),
            status="ERROR" if root.error else "OK", end_time_ns=root.end_ns,
        )  # fmt: skip
        return str(live.trace_id)

    def _children(self, client: Any, trace_id: str, parent: str, spans: list[SpanRecord]) -> None:
        for record in spans:
            span = client.start_span(
                record.name, trace_id=trace_id, parent_id=parent, span_type=record.span_type,
                inputs=record.inputs, attributes=_attrs(record), start_time_ns=record.start_ns,
            )  # fmt: skip
            self._children(client, trace_id, span.span_id, record.children)
            client.end_span(
                trace_id, span.span_id, outputs=record.outputs, attributes=_attrs(record),
                status="ERROR" if record.error else "OK", end_time_ns=record.end_ns,
            )  # fmt: skip

    def _experiment_id(self, client: Any) -> str:
        found = client.get_experiment_by_name(EXPERIMENT)
        if found is not None:
            return str(found.experiment_id)
        location = self.artifact_root.resolve().as_uri() if self.artifact_root else None
        try:
            return str(client.create_experiment(EXPERIMENT, artifact_location=location))
        except Exception:  # noqa: BLE001 - another process created it first
            found = client.get_experiment_by_name(EXPERIMENT)
            if found is None:
                raise
            return str(found.experiment_id)

    def spans(self, trace_id: str) -> list[dict[str, Any]]:
        """The spans of a stored trace as plain dicts (name, parent, inputs, outputs, …)."""
        from mlflow import MlflowClient

        with _quiet_store_setup():
            trace = MlflowClient(self.uri).get_trace(trace_id)
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


def _attrs(record: SpanRecord) -> dict[str, Any]:
    out = dict(record.attributes)
    if record.error:
        out["error"] = record.error
    return out


def _artifacts_beside(uri: str) -> Path | None:
    """Artifacts next to a sqlite file; other stores choose their own location."""
    prefix = "sqlite:///"
    return Path(uri[len(prefix) :]).parent / "mlflow-artifacts" if uri.startswith(prefix) else None


@contextmanager
def _synchronous_export() -> Iterator[None]:
    """Export while the write runs, not from MLflow's background queue.

    With the queue, flushing it and retiring its exporter each wait about a second;
    written synchronously, a trace of four spans takes ~20 ms, and it is in the store
    when :meth:`TraceStore.write` returns.
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
