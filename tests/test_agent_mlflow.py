"""The agent as MLflow sees it: logged from code, loaded back, predicting; every turn a trace."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import pytest
from agent_helpers import image_tool, seeded_workspace

import adseed.agent.mlflow_model as model_file
from adseed.agent.core import Agent
from adseed.agent.fake import FakeChatModel
from adseed.config import resolve_settings
from adseed.tracing import tracking_uri


@pytest.fixture
def ws(tmp_path):
    settings = resolve_settings({"home": tmp_path / "ws", "embedder": "fake", "agent_chat": "fake"}, env={})
    return seeded_workspace(settings, tmp_path)


def test_logged_and_loaded_from_mlflows_local_store(ws, tmp_path, monkeypatch):
    from mlflow.tracking._tracking_service import utils

    monkeypatch.setattr(utils, "_tracking_uri", utils._tracking_uri)  # both restored afterwards,
    monkeypatch.setenv("MLFLOW_TRACKING_URI", os.environ.get("MLFLOW_TRACKING_URI", ""))
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'registry.db'}")
    mlflow.set_experiment(experiment_id=mlflow.create_experiment(
        "agent-logging", artifact_location=(tmp_path / "artifacts").as_uri()))
    config = {"home": str(ws.home), "agent_chat": "fake", "embedder": "fake"}
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="ad-agent", python_model=str(Path(model_file.__file__)), model_config=config,
            pip_requirements=["adseed"],
        )
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    out = loaded.predict({"input": [{"role": "user", "content": "dog owners who love parks"}],
                          "custom_inputs": {"session_id": "logged-1"}})
    assert out["custom_outputs"]["stage"] == "proposed"
    assert out["output"][-1]["content"][0]["text"].startswith("How about a dog in a park?")
    assert type(loaded._model_impl).__name__ == "_ResponsesAgentPyfuncWrapper"  # served as one
    # the conversation the MLflow-served agent had is the workspace's own, under its owner
    again = Agent(ws, FakeChatModel(), image_tool()).history("logged-1")
    assert [m["role"] for m in again.messages] == ["user", "assistant"]


def test_every_turn_is_one_trace_with_policy_and_tool_spans(ws):
    agent = Agent(ws, FakeChatModel(), image_tool())
    for text in ["dog owners who love parks", "yes", "no"]:
        agent.turn(text, "traced")
    mlflow.flush_trace_async_logging()
    mlflow.set_tracking_uri(tracking_uri(ws.settings))
    traces = mlflow.search_traces(return_type="list", max_results=10)
    assert len(traces) == 3
    names = [sorted({s.name for s in t.data.spans}) for t in traces]
    assert all({"agent_turn", "policy_step", "load_session"} <= set(n) for n in names)
    with_tool = [n for n in names if "generate_ad_image" in n]
    assert len(with_tool) == 2  # "yes" and "no" each called the tool once
