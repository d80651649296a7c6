"""Codex hook jobs → the worker → traces: the resume fixture replayed hook by hook, the rollout
growing as it did when each hook ran (tests/fixtures/codex-0.169.0/resume/hooks.jsonl)."""

import json
import os
from pathlib import Path

import traces

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "codex-0.169.0" / "resume"


def store_uri():
    return "sqlite:///" + os.path.join(os.environ["TRACES_HOME"], "mlflow.db")


def stored_traces(experiment="acme/widgets"):
    import mlflow
    client = mlflow.MlflowClient(store_uri())
    found = client.get_experiment_by_name(experiment)
    return [] if found is None else client.search_traces(locations=[found.experiment_id], max_results=100)


def setup(tmp_path, monkeypatch):
    """A repository wired for Codex, a CODEX_HOME, and the hook's environment."""
    repo = tmp_path / "widgets"
    (repo / ".claude").mkdir(parents=True)
    (repo / ".claude" / "traces.json").write_text(json.dumps({"experiment": "acme/widgets"}))
    (repo / ".claude" / "traces.local.json").write_text(json.dumps({"tracking_uri": store_uri()}))
    home = tmp_path / "codex-home"
    source = next(FIXTURE.glob("rollout-*.jsonl"))
    rollout = home / "sessions" / "2026" / "12" / "02" / source.name
    rollout.parent.mkdir(parents=True)
    monkeypatch.setattr(traces, "start_worker", lambda: None)
    env = {**os.environ, "CODEX_HOME": str(home), "CLAUDE_PROJECT_DIR": str(repo), traces.ENV_AGENT: "codex"}
    return repo, source, rollout, env


def replay(source, rollout, repo, env, hook):
    """Grow the rollout to what it held when the hook ran, then run our hook with its input."""
    lines = source.read_text().splitlines(keepends=True)
    rollout.write_text("".join(lines[:hook["rollout_lines"]]))
    payload = {**hook["stdin"], "transcript_path": str(rollout), "cwd": str(repo)}
    traces.hook(json.dumps(payload).encode(), env)


def hooks():
    return [json.loads(line) for line in (FIXTURE / "hooks.jsonl").read_text().splitlines()]


def test_each_turn_is_traced_once_across_a_resume(tmp_path, monkeypatch):
    repo, source, rollout, env = setup(tmp_path, monkeypatch)
    uploaders, counts = {}, []
    for hook in hooks():
        replay(source, rollout, repo, env, hook)
        assert traces.drain_spool(uploaders)
        counts.append(len(stored_traces()))
    assert counts == [1, 1, 2, 2]
    found = sorted(stored_traces(), key=lambda t: t.info.request_time)
    assert [t.info.tags["agent"] for t in found] == ["codex", "codex"]
    assert traces.pending_jobs() == []


def test_a_stop_ends_only_the_turn_whose_answer_it_reports(tmp_path, monkeypatch):
    repo, source, rollout, env = setup(tmp_path, monkeypatch)
    first = hooks()[0]
    replay(source, rollout, repo, env, {**first, "stdin": {**first["stdin"], "last_assistant_message": "other"}})
    assert traces.drain_spool({})
    assert stored_traces() == []                  # held: no task_complete, and not its answer
    replay(source, rollout, repo, env, hooks()[1])  # SessionEnd vouches for it
    assert traces.drain_spool({})
    assert len(stored_traces()) == 1


def test_a_session_outside_the_repository_is_not_recorded(tmp_path, monkeypatch):
    repo, source, rollout, env = setup(tmp_path, monkeypatch)
    replay(source, rollout, tmp_path / "elsewhere", env, hooks()[0])
    payload = {**hooks()[0]["stdin"], "transcript_path": str(rollout), "cwd": str(tmp_path / "elsewhere")}
    traces.hook(json.dumps(payload).encode(), env)
    assert traces.pending_jobs() == []


def test_a_codex_job_for_a_file_outside_the_sessions_folder_is_refused(tmp_path, monkeypatch):
    repo, source, rollout, env = setup(tmp_path, monkeypatch)
    outside = tmp_path / "stray.jsonl"
    outside.write_text(source.read_text())
    traces.hook(json.dumps({**hooks()[1]["stdin"], "transcript_path": str(outside), "cwd": str(repo)}).encode(), env)
    assert traces.drain_spool({})
    assert stored_traces() == []


def test_import_takes_past_codex_sessions_of_this_repository(tmp_path, monkeypatch, capsys):
    repo, source, rollout, env = setup(tmp_path, monkeypatch)
    lines = source.read_text().replace("/tmp/claudetracing-codex-fixture/exec/widgets", str(repo))
    rollout.write_text(lines)
    os.utime(rollout, (1, 1))                                      # quiet for long: over
    monkeypatch.setenv("CODEX_HOME", env["CODEX_HOME"])
    monkeypatch.chdir(repo)
    assert traces.main(["import"]) == 0
    assert "Imported 2 new turn(s)" in capsys.readouterr().out
    assert traces.main(["import"]) == 0
    assert "Imported 0 new turn(s)" in capsys.readouterr().out
    assert len(stored_traces()) == 2
