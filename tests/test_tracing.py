"""One MLflow trace per request: the generation service's spans join the agent turn's trace.

Real MLflow stores (SQLite) throughout; traces are read back after MLflow's background
export has been flushed, exactly as a user would find them.
"""

from __future__ import annotations

import mlflow
import pytest
from agent_helpers import image_tool, seeded_workspace
from mlflow import MlflowClient

from adseed.agent.core import Agent
from adseed.agent.fake import FakeChatModel
from adseed.config import resolve_settings
from adseed.generate.records import GENERATIONS
from adseed.generate.service import REQUEST_TAG, generate_ad
from adseed.tracing import EXPERIMENT, TraceStore, tracking_uri, use_workspace_store


@pytest.fixture
def ws(tmp_path):
    settings = resolve_settings({"home": tmp_path / "ws", "embedder": "fake", "agent_chat": "fake"}, env={})
    return seeded_workspace(settings, tmp_path)


def _traces(ws) -> list:
    mlflow.flush_trace_async_logging()
    client = MlflowClient(tracking_uri(ws.settings))
    experiment = client.get_experiment_by_name(EXPERIMENT).experiment_id
    return client.search_traces(locations=[experiment], max_results=50)


def _tree(trace) -> dict[str, str | None]:
    """span name → its parent's name."""
    names = {s.span_id: s.name for s in trace.data.spans}
    return {s.name: names.get(s.parent_id) for s in trace.data.spans}


def test_a_turn_and_the_service_it_calls_are_one_trace(ws) -> None:
    agent = Agent(ws, FakeChatModel(), image_tool())
    turns = [agent.turn(text, "one-trace") for text in ["dog owners who love parks", "yes", "no", "yes"]]
    assert [len(t.calls) for t in turns] == [0, 1, 1, 1] and turns[-1].calls[0].call.generate
    traces = {t.info.trace_id: t for t in _traces(ws)}
    assert len(traces) == 4  # one per turn, none of the service's own

    for turn in turns[1:]:
        trace = traces[turn.calls[0].result.trace_id]  # the tool's trace id is the turn's
        tree = _tree(trace)
        assert tree["generate_ad_image"] == "agent_turn" and tree["policy_step"] == "agent_turn"
        assert tree["adseed.generate"] == "generate_ad_image" and tree["retrieve"] == "adseed.generate"
        retrieve = next(s for s in trace.data.spans if s.name == "retrieve")
        assert retrieve.attributes["vector_query"] is (turn is turns[1])  # "no" reused the three

    final = traces[turns[-1].calls[0].result.trace_id]
    assert {"generate", "score", "write"} <= {n for n, p in _tree(final).items() if p == "adseed.generate"}
    spans = {s.name: s for s in final.data.spans}
    tool = spans["generate_ad_image"]
    for name in ("adseed.generate", "retrieve", "generate", "score", "write"):  # real times, nested
        assert tool.start_time_ns <= spans[name].start_time_ns <= spans[name].end_time_ns <= tool.end_time_ns
    row = ws.tables.read(GENERATIONS).to_pylist()[0]
    assert final.info.tags[REQUEST_TAG] == row["request_id"]  # the lineage row finds its turn
    assert spans["adseed.generate"].attributes[REQUEST_TAG] == row["request_id"]


def test_alone_in_a_process_that_exports_to_the_store_it_is_its_own_trace(ws) -> None:
    uri = use_workspace_store(ws.settings)
    result = generate_ad(ws, "dog in a park")
    assert mlflow.get_tracking_uri() == uri  # recording changed nothing process-wide
    assert mlflow.get_current_active_span() is None
    spans = {s["name"]: s for s in TraceStore.for_settings(ws.settings).spans(result.trace_id)}
    assert spans["adseed.generate"]["parent"] is None and spans["retrieve"]["parent"] == "adseed.generate"
    assert [t.info.trace_id for t in _traces(ws)] == [result.trace_id]


def test_with_tracing_switched_off_nothing_is_recorded_and_the_request_still_works(ws) -> None:
    use_workspace_store(ws.settings)
    mlflow.tracing.disable()
    try:
        result = generate_ad(ws, "dog in a park")
    finally:
        mlflow.tracing.enable()
    assert result.trace_id is None and len(result.candidates) == 3
    assert _traces(ws) == []
