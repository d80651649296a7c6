"""Copilot CLI sessions through the worker and `traces import`: the recorded resumed session
replayed hook by hook (a turn is held until Copilot's agentStop, none traced twice), and past
sessions imported by path, by folder and by discovery, their tokens equal to session.shutdown."""

import json
import os
from pathlib import Path

import pytest

import traces

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "copilot-1.0.102"
RECORDED_CWD = "/tmp/copilot-fixture/project"


def store_uri():
    return "sqlite:///" + os.path.join(os.environ["TRACES_HOME"], "mlflow.db")


def stored_traces(experiment="acme/widgets"):
    import mlflow
    client = mlflow.MlflowClient(store_uri())
    found = client.get_experiment_by_name(experiment)
    return [] if found is None else client.search_traces(locations=[found.experiment_id], max_results=100)


@pytest.fixture
def widgets(tmp_path, monkeypatch):
    repo = tmp_path / "widgets"
    (repo / ".claude").mkdir(parents=True)
    (repo / ".claude" / "traces.json").write_text(json.dumps({"experiment": "acme/widgets"}))
    (repo / ".claude" / "traces.local.json").write_text(json.dumps({"tracking_uri": store_uri()}))
    monkeypatch.setenv("COPILOT_HOME", str(tmp_path / "copilot-home"))
    monkeypatch.chdir(repo)
    return repo


def copy_session(name, repo, quiet=True):
    """A recorded session in COPILOT_HOME/session-state, as if it had run in `repo`."""
    text = (FIXTURES / name / "events.jsonl").read_text().replace(RECORDED_CWD, str(repo))
    session = json.loads(text.splitlines()[0])["data"]["sessionId"]
    path = Path(os.environ["COPILOT_HOME"]) / "session-state" / session / "events.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if quiet:
        os.utime(path, (1, 1))
    return path


def ledger_total(path):
    shutdown = [json.loads(line) for line in path.read_text().splitlines() if '"session.shutdown"' in line][-1]
    return sum(traces.copilot_usage(m["usage"])["total"] for m in shutdown["data"]["modelMetrics"].values())


def test_each_turn_is_traced_once_across_a_resume(widgets, monkeypatch):
    source = copy_session("resumed", widgets)
    lines = source.read_text().splitlines(keepends=True)
    monkeypatch.setattr(traces, "start_worker", lambda: None)
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(widgets), traces.ENV_AGENT: "copilot"}
    session = source.parent.name
    counts = []
    # Grow the file as Copilot wrote it, running our hooks where Copilot ran them.
    for i, line in enumerate(lines):
        source.write_text("".join(lines[:i + 1]))
        record = json.loads(line)
        if record["type"] == "hook.start":
            traces.hook(json.dumps({"sessionId": session, "cwd": str(widgets), "transcriptPath": str(source),
                                    "stopReason": "end_turn", "timestamp": 1}).encode(), env)
        elif record["type"] == "session.shutdown":
            traces.hook(json.dumps({"sessionId": session, "cwd": str(widgets), "reason": "complete"}).encode(), env)
        else:
            continue
        assert traces.drain_spool({})
        counts.append(len(stored_traces()))
    assert counts == [1, 1, 2, 2, 3, 3]
    found = stored_traces()
    assert {t.info.tags["agent"] for t in found} == {"copilot"}
    assert sum(int(t.info.tags["tokens.total"]) for t in found) == ledger_total(source)


def test_a_turn_under_way_is_held_back(widgets, monkeypatch):
    source = copy_session("single", widgets, quiet=False)
    lines = source.read_text().splitlines(keepends=True)
    stop = next(i for i, line in enumerate(lines) if '"hookType":"agentStop"' in line)
    source.write_text("".join(lines[:stop]))
    assert traces.trace_session(source.parent.name, str(source), traces.Uploader({traces.ENV_URI: store_uri(),
                                traces.ENV_EXPERIMENT: "acme/widgets"}), agent="copilot") == 0


def test_import_by_path_by_folder_and_by_discovery(widgets, capsys, tmp_path):
    resumed, single = copy_session("resumed", widgets), copy_session("single", widgets)
    assert traces.main(["import", str(resumed)]) == 0
    assert "Imported 3 new turn(s) from 1 session(s)" in capsys.readouterr().out
    assert traces.main(["import", str(single.parent.parent)]) == 0          # the session-state folder
    assert "Imported 1 new turn(s)" in capsys.readouterr().out
    assert traces.main(["import"]) == 0                                       # this repository's: none new
    assert "Imported 0 new turn(s)" in capsys.readouterr().out
    found = stored_traces()
    assert len(found) == 4 and {t.info.tags["agent"] for t in found} == {"copilot"}
    assert sum(int(t.info.tags["tokens.total"]) for t in found) == ledger_total(resumed) + ledger_total(single)
    assert {t.info.trace_metadata["mlflow.source.name"] for t in found} == {"copilot-cli"}


def test_import_discovers_this_repositorys_sessions_only(widgets, capsys, tmp_path):
    copy_session("resumed", widgets)
    copy_session("single", tmp_path / "elsewhere")
    assert traces.main(["import"]) == 0
    assert "Imported 3 new turn(s) from 1 session(s)" in capsys.readouterr().out


def test_a_subagent_is_a_span_under_its_task_call(widgets, capsys):
    import mlflow
    path = copy_session("subagent", widgets)
    assert traces.main(["import", str(path)]) == 0
    (trace,) = stored_traces()
    spans = mlflow.MlflowClient(store_uri()).get_trace(trace.info.trace_id).data.spans
    by_id = {s.span_id: s for s in spans}
    (agent,) = [s for s in spans if s.name == "subagent_general-purpose"]
    assert by_id[agent.parent_id].name == "tool_task"
    assert sorted(by_id[s.parent_id].name for s in spans if s.name == "tool_bash") == [
        "copilot_cli_conversation", "subagent_general-purpose"]
    assert int(trace.info.tags["tokens.total"]) == ledger_total(path)
