"""Gemini CLI hook jobs → the worker → traces, and `traces import` of past Gemini sessions: the
resume fixture replayed hook by hook, the chat file growing as it did when each hook ran
(tests/fixtures/gemini-0.61.0/resume/hooks.jsonl), and both file forms imported."""

import json
import os
import shutil
from pathlib import Path

import pytest

import traces

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "gemini-0.61.0"
RESUME = FIXTURES / "resume"


def store_uri():
    return "sqlite:///" + os.path.join(os.environ["TRACES_HOME"], "mlflow.db")


def stored_traces(experiment="acme/widgets"):
    import mlflow
    client = mlflow.MlflowClient(store_uri())
    found = client.get_experiment_by_name(experiment)
    traces_ = [] if found is None else client.search_traces(locations=[found.experiment_id], max_results=100)
    return sorted(traces_, key=lambda t: t.info.request_time)


def wired_repo(tmp_path):
    repo = tmp_path / "widgets"
    (repo / ".claude").mkdir(parents=True, exist_ok=True)
    (repo / ".claude" / "traces.json").write_text(json.dumps({"experiment": "acme/widgets"}))
    (repo / ".claude" / "traces.local.json").write_text(json.dumps({"tracking_uri": store_uri()}))
    return repo


def project_folder(home, repo, name="widgets"):
    """~/.gemini/tmp/<name>/chats, with the .project_root Gemini CLI writes beside it."""
    folder = home / ".gemini" / "tmp" / name
    (folder / "chats").mkdir(parents=True, exist_ok=True)
    (folder / ".project_root").write_text(str(repo))
    return folder / "chats"


def setup(tmp_path, monkeypatch):
    """A repository wired for Gemini CLI, a Gemini home, and the hook's environment."""
    repo = wired_repo(tmp_path)
    home = Path(os.environ["HOME"])
    source = next(RESUME.glob("session-*.jsonl"))
    chat = project_folder(home, repo) / source.name
    monkeypatch.setattr(traces, "start_worker", lambda: None)
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(repo), traces.ENV_AGENT: "gemini"}
    return repo, source, chat, env


def hooks():
    return [json.loads(line) for line in (RESUME / "hooks.jsonl").read_text().splitlines()]


def replay(source, chat, repo, env, hook):
    """Grow the chat to what it held when the hook ran, then run our hook with its input."""
    lines = source.read_text().splitlines(keepends=True)
    chat.write_text("".join(lines[:hook["chat_lines"]]))
    traces.hook(json.dumps({**hook["stdin"], "transcript_path": str(chat), "cwd": str(repo)}).encode(), env)


def ledger():
    total = {}
    for path in sorted(RESUME.glob("stats-*.json")):
        for stats in json.loads(path.read_text())["stats"]["models"].values():
            for key, value in stats["tokens"].items():
                total[key] = total.get(key, 0) + value
    return total


def test_each_turn_is_traced_once_across_two_resumes(tmp_path, monkeypatch):
    repo, source, chat, env = setup(tmp_path, monkeypatch)
    uploaders, counts = {}, []
    for hook in hooks():
        replay(source, chat, repo, env, hook)
        job = json.loads(Path(traces.pending_jobs()[-1]).read_text())
        assert (job["agent"], job["hook_event_name"]) == ("gemini", {"AfterAgent": "Stop"}.get(hook["event"], hook["event"]))
        assert traces.drain_spool(uploaders)
        counts.append(len(stored_traces()))
    assert counts == [1, 1, 2, 2, 3, 3]
    found = stored_traces()
    assert [t.info.tags["agent"] for t in found] == ["gemini"] * 3
    assert sum(int(t.info.tags["tokens.total"]) for t in found) == ledger()["total"]
    assert sum(int(t.info.tags["tokens.cache_read"]) for t in found) == ledger()["cached"]
    assert traces.pending_jobs() == []


def test_a_turn_still_being_written_is_held_back_until_it_ends(tmp_path, monkeypatch, capsys):
    """The chat as it is while a tool runs (its model message has no toolCalls yet): import of
    a file written just now sends a Stop of its own, which must not end a turn that is not over."""
    repo, source, chat, env = setup(tmp_path, monkeypatch)
    lines = source.read_text().splitlines(keepends=True)
    chat.write_text("".join(lines[:5]))                           # header, context, prompt, first model message
    monkeypatch.chdir(repo)
    assert traces.main(["import", str(chat)]) == 0
    assert "Imported 0 new turn(s)" in capsys.readouterr().out and stored_traces() == []
    replay(source, chat, repo, env, hooks()[0])                   # AfterAgent: the whole turn is there
    assert traces.drain_spool({})
    assert len(stored_traces()) == 1


def test_a_gemini_job_for_a_file_outside_gemini_folder_is_refused(tmp_path, monkeypatch):
    repo, source, chat, env = setup(tmp_path, monkeypatch)
    outside = tmp_path / "stray.jsonl"
    outside.write_text(source.read_text())
    traces.hook(json.dumps({**hooks()[1]["stdin"], "transcript_path": str(outside), "cwd": str(repo)}).encode(), env)
    assert traces.drain_spool({})
    assert stored_traces() == []


def test_import_finds_this_repositorys_gemini_sessions_in_both_forms(tmp_path, monkeypatch, capsys):
    repo = wired_repo(tmp_path)
    home = Path(os.environ["HOME"])
    # The older session was started in a subfolder: a project of its own to Gemini CLI.
    for name, chats in (("resume", project_folder(home, repo)), ("older", project_folder(home, repo / "sub", "sub"))):
        source = next((FIXTURES / name).glob("session-*.json*"))
        shutil.copy(source, chats / source.name)
        os.utime(chats / source.name, (1, 1))                     # quiet for long: over
    other = project_folder(home, tmp_path / "elsewhere", "elsewhere")
    shutil.copy(next((FIXTURES / "shell").glob("session-*.jsonl")), other)
    monkeypatch.chdir(repo)
    assert traces.main(["import"]) == 0
    assert "Imported 6 new turn(s) from 2 session(s)" in capsys.readouterr().out
    assert traces.main(["import"]) == 0
    assert "Imported 0 new turn(s)" in capsys.readouterr().out
    found = stored_traces()
    assert {t.info.tags["agent"] for t in found} == {"gemini"}
    assert {t.info.trace_metadata["mlflow.trace.session"] for t in found} == {
        "625568b3-34f5-4ebc-ae50-fda0056b353a", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}
    assert traces.main(["import", "--all"]) == 0
    assert "Imported 1 new turn(s)" in capsys.readouterr().out     # the other project's session


def test_import_by_path_takes_a_chat_file_or_a_folder_of_them(tmp_path, monkeypatch, capsys):
    repo = wired_repo(tmp_path)
    monkeypatch.chdir(repo)
    older = next((FIXTURES / "older").glob("session-*.json"))
    assert traces.main(["import", str(older)]) == 0
    assert "Imported 3 new turn(s) from 1 session(s)" in capsys.readouterr().out
    assert traces.main(["import", str(FIXTURES)]) == 0          # a folder: its chats in any subfolder
    assert "Imported 4 new turn(s) from 3 session(s)" in capsys.readouterr().out
    tagged = [t for t in stored_traces() if t.info.trace_metadata["mlflow.trace.session"].startswith("0a1b2c3d")]
    assert sorted(t.info.tags["claudetracing.status"] for t in tagged) == ["error", "ok", "ok"]   # a tool failed in one


@pytest.mark.parametrize("text", ['{"messages": "no"}', ""])
def test_import_of_a_file_that_is_no_session_is_an_error(tmp_path, monkeypatch, capsys, text):
    repo = wired_repo(tmp_path)
    monkeypatch.chdir(repo)
    bad = tmp_path / "session-bad.json"
    bad.write_text(text)
    assert traces.main(["import", str(bad)]) == 1
    assert "nothing was imported" in capsys.readouterr().err


def test_import_finds_an_older_session_by_the_projects_hash(tmp_path, monkeypatch, capsys):
    """Older versions named the project's folder by its hash (sha256 of its path) and wrote no
    .project_root: the chat's projectHash says whose it is."""
    import hashlib
    repo = wired_repo(tmp_path)
    digest = hashlib.sha256(os.path.realpath(repo).encode()).hexdigest()
    chats = Path(os.environ["HOME"]) / ".gemini" / "tmp" / digest / "chats"
    chats.mkdir(parents=True)
    source = next((FIXTURES / "older").glob("session-*.json"))
    document = json.loads(source.read_text())
    for project, name in ((digest, "mine"), ("f" * 64, "theirs")):
        (chats / f"session-{name}.json").write_text(json.dumps({**document, "projectHash": project,
                                                                 "sessionId": f"{name}-session"}))
        os.utime(chats / f"session-{name}.json", (1, 1))
    monkeypatch.chdir(repo)
    assert traces.main(["import"]) == 0
    assert "Imported 3 new turn(s) from 1 session(s)" in capsys.readouterr().out
    assert {t.info.trace_metadata["mlflow.trace.session"] for t in stored_traces()} == {"mine-session"}
