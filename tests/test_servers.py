"""The test servers themselves: a trace logged over HTTP survives a server restart."""

from __future__ import annotations

import time

import mlflow
import pytest
from mlflow.exceptions import MlflowException

pytest_plugins = ["servers_fixtures"]  # idempotent if conftest.py loads it too


def log_turn(experiment_id: str) -> str:
    mlflow.set_experiment(experiment_id=experiment_id)
    with mlflow.start_span(name="turn") as root:
        root.set_inputs({"prompt": "hello"})
        with mlflow.start_span(name="tool") as child:
            child.set_inputs({"cmd": "ls"})
            child.set_outputs({"stdout": "a b"})
        root.set_outputs({"response": "hi"})
    return root.trace_id


def assert_trace_stored(experiment_id: str, trace_id: str) -> None:
    trace = mlflow.get_trace(trace_id)
    assert trace is not None
    assert sorted(span.name for span in trace.data.spans) == ["tool", "turn"]
    tool = next(span for span in trace.data.spans if span.name == "tool")
    assert tool.outputs == {"stdout": "a b"}
    found = mlflow.search_traces(locations=[experiment_id], return_type="list")
    assert [t.info.trace_id for t in found] == [trace_id]


@pytest.mark.slow  # two server starts, ~10-15 s per backend
def test_trace_survives_server_restart(mlflow_client):
    server = mlflow_client
    experiment_id = mlflow.create_experiment("servers-test")
    trace_id = log_turn(experiment_id)
    assert_trace_stored(experiment_id, trace_id)

    server.stop()
    started = time.monotonic()
    with pytest.raises(MlflowException):
        mlflow.get_experiment(experiment_id)
    assert time.monotonic() - started < 5, "client should fail fast with retries disabled"

    server.start()
    assert_trace_stored(experiment_id, trace_id)
