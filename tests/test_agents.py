"""The agent seam: an agent is one AGENTS entry. A toy agent registered here, and nothing else,
is traced by the hook, the worker and import like Claude Code and Codex are."""

import json
import os

import pytest

import traces


def toy_turn(session, offset, record):
    return {"id": f"{session}:{offset}", "session": session, "agent": "toy", "offset": offset,
            "prompt": record["prompt"], "answer": record["answer"], "command": None,
            "start": record["time"], "end": record["time"] + 1, "steps": [], "meta": {}, "waiting": [],
            "ended": True, "interrupted": False, "usage": traces.empty_usage(), "by_model": {}, "cost": None,
            "models": [], "files": [], "tool_counts": {}, "tool_errors": 0,
            "ledger": None, "compactions": [], "copied_from": []}


def toy_read(session, path, state, jobs):
    records, end, _ = traces.read_lines(path, state["offset"], True)
    turns = [toy_turn(session, offset, record) for offset, record in records]
    return turns, end, turns.__getitem__


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """The toy agent: one JSON line a turn, in ~/.toy/sessions/<session>.jsonl."""
    sessions = tmp_path / "home" / ".toy" / "sessions"
    sessions.mkdir(parents=True)
    before = dict(traces.AGENTS)
    traces.add_agent("toy", what="toy session", root_span="toy_conversation", source_name="toy-cli", label="Toy",
                     hook_job=lambda job, cwd, environ: {**job, "agent": "toy"},
                     sessions_dir=lambda jobs=(): str(sessions), read=toy_read,
                     finished=lambda turn, offset, closed, state: closed or offset < state["vouched"],
                     files_in=lambda folder: [os.path.join(folder, n) for n in os.listdir(folder)],
                     identify=lambda path: os.path.basename(path)[:-len(".jsonl")] if "/.toy/" in path else None,
                     project_sessions=lambda root, everything: {})
    monkeypatch.setattr(traces, "start_worker", lambda: None)
    yield sessions
    traces.AGENTS.clear()
    traces.AGENTS.update(before)


def write_session(path, *prompts):
    path.write_text("".join(json.dumps({"prompt": p, "answer": p.upper(), "time": 1_700_000_000 + i}) + "\n"
                            for i, p in enumerate(prompts)))


def stored(experiment="claude-code"):
    import mlflow
    client = mlflow.MlflowClient(traces.local_store_uri())
    found = client.get_experiment_by_name(experiment)
    traces_ = [] if found is None else client.search_traces(locations=[found.experiment_id], max_results=100)
    return sorted(traces_, key=lambda t: t.info.request_time)


def test_a_registered_agent_is_traced_through_the_hook_and_the_worker(toy, tmp_path):
    session = toy / "s-1.jsonl"
    write_session(session, "one", "two")
    payload = {"hook_event_name": "Stop", "session_id": "s-1", "transcript_path": str(session), "cwd": str(tmp_path)}
    traces.hook(json.dumps(payload).encode(), {**os.environ, traces.ENV_AGENT: "toy"})
    [job] = [json.load(open(p)) for p in traces.pending_jobs()]
    assert job["agent"] == "toy"
    assert traces.drain_spool({})
    found = stored()
    assert [t.info.tags["agent"] for t in found] == ["toy", "toy"]
    assert [t.info.tags["mlflow.traceName"] for t in found] == ["toy_conversation"] * 2
    assert [t.info.trace_metadata["mlflow.source.name"] for t in found] == ["toy-cli"] * 2
    assert traces.pending_jobs() == []


def test_the_worker_reads_a_registered_agent_only_under_its_own_folder(toy, tmp_path):
    outside = tmp_path / "s-2.jsonl"
    write_session(outside, "one")
    payload = {"hook_event_name": "Stop", "session_id": "s-2", "transcript_path": str(outside), "cwd": str(tmp_path)}
    traces.hook(json.dumps(payload).encode(), {**os.environ, traces.ENV_AGENT: "toy"})
    traces.drain_spool({})
    assert stored() == []
    assert f"refused a transcript outside {toy}" in open(os.path.join(os.environ["TRACES_HOME"], "traces.log")).read()


def test_import_reads_a_registered_agents_files_by_their_content(toy, tmp_path, monkeypatch, capsys):
    write_session(toy / "s-3.jsonl", "one", "two")
    os.utime(toy / "s-3.jsonl", (0, 0))                  # quiet for long: its last turn is over
    monkeypatch.chdir(tmp_path)
    assert traces.main(["import", str(toy)]) == 0
    assert "Imported 2 new turn(s) from 1 session(s)" in capsys.readouterr().out
    # Without init, into the experiment search and report read here: the folder's name.
    experiment = traces.default_experiment_name(traces.repo_root(str(tmp_path)))
    assert [t.info.trace_metadata["mlflow.trace.session"] for t in stored(experiment)] == ["s-3", "s-3"]
    capsys.readouterr()
    assert traces.main(["search", "-f", "json"]) == 0          # where search looks: it finds them
    assert len(json.loads(capsys.readouterr().out)["traces"]) == 2
