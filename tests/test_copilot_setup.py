"""`traces init --agent copilot`, status, doctor and disable: our hook file in ~/.copilot/hooks
and nothing else of the user's; and the hook inputs Copilot CLI sends, in both its formats and
through a repository's Claude Code hooks."""

import json
import os
from pathlib import Path

import pytest

import traces

USERS = {"version": 1, "hooks": {"agentStop": [{"type": "command", "bash": "echo mine", "timeoutSec": 5}]}}


@pytest.fixture
def wired(repo, isolated):
    hooks = isolated / ".copilot" / "hooks"
    hooks.mkdir(parents=True)
    (hooks / "mine.json").write_text(json.dumps(USERS))
    assert traces.main(["init", "--agent", "copilot", "--local", "--yes"]) == 0
    ours = [p for p in hooks.iterdir() if p.name != "mine.json"]
    return repo, hooks, ours


def test_init_writes_one_hook_file_of_ours_and_disable_removes_it(wired, capsys):
    repo, hooks, ours = wired
    assert len(ours) == 1 and ours[0].name.startswith("claudetracing-")
    data = json.loads(ours[0].read_text())
    assert data["version"] == 1 and sorted(data["hooks"]) == ["agentStop", "sessionEnd"]
    for (handler,) in data["hooks"].values():
        assert f"CLAUDE_PROJECT_DIR={repo} CLAUDETRACING_AGENT=copilot;" in handler["bash"]
        assert handler["type"] == "command" and handler["timeoutSec"] > 0
    assert json.loads((hooks / "mine.json").read_text()) == USERS
    assert not (repo / ".claude" / "settings.json").exists()          # Claude Code was not asked for
    assert not (repo / ".github").exists()
    before = ours[0].read_text()
    capsys.readouterr()
    assert traces.main(["init", "--agent", "copilot", "--local", "--yes"]) == 0
    assert ours[0].read_text() == before
    capsys.readouterr()
    assert traces.main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["copilot"] == {"hooks": ["agentStop", "sessionEnd"],
                                                               "hooks_file": str(ours[0])}
    assert traces.main(["disable"]) == 0
    assert sorted(p.name for p in hooks.iterdir()) == ["mine.json"]
    assert json.loads((hooks / "mine.json").read_text()) == USERS


def test_disable_keeps_a_hook_the_user_added_to_our_file(wired):
    repo, hooks, (ours,) = wired
    data = json.loads(ours.read_text())
    data["hooks"]["agentStop"].append({"type": "command", "bash": "echo added", "timeoutSec": 5})
    ours.write_text(json.dumps(data))
    assert traces.main(["disable"]) == 0
    assert json.loads(ours.read_text())["hooks"] == {"agentStop": [{"type": "command", "bash": "echo added",
                                                                    "timeoutSec": 5}]}


def test_doctor_checks_our_copilot_hooks(wired, capsys):
    repo, hooks, (ours,) = wired
    assert traces.check_copilot(traces.Checkup(str(repo)))[0] is True
    data = json.loads(ours.read_text())
    del data["hooks"]["sessionEnd"]
    ours.write_text(json.dumps(data))
    ok, detail, fix = traces.check_copilot(traces.Checkup(str(repo)))
    assert not ok and "sessionEnd" in detail and fix == "traces init --agent copilot"
    ours.write_text("[]")
    assert traces.main(["init", "--agent", "copilot", "--local", "--yes"]) == 1
    assert "is not a JSON object" in capsys.readouterr().err


def jobs():
    spool = Path(os.environ["TRACES_HOME"]) / "spool"
    return [json.loads(p.read_text()) for p in sorted(spool.glob("*.json"))] if spool.exists() else []


def copilot_hook(repo, payload, **env):
    command_env = {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"], "COPILOT_CLI": "1",
                   "CLAUDE_PROJECT_DIR": str(repo), **env}
    traces.hook(json.dumps(payload).encode(), command_env)


@pytest.fixture
def no_worker(monkeypatch):
    monkeypatch.setattr(traces, "start_worker", lambda: None)


def test_copilots_own_format_is_a_stop_and_a_session_end(repo, isolated, no_worker):
    session = "5b08c260-aa88-497a-bc6a-9423e80560f5"
    events = isolated / ".copilot" / "session-state" / session / "events.jsonl"
    events.parent.mkdir(parents=True)
    events.write_text('{"type":"session.start"}\n')
    ours = {traces.ENV_AGENT: "copilot"}
    copilot_hook(repo, {"sessionId": session, "timestamp": 1796627077870, "cwd": str(repo),
                        "transcriptPath": str(events), "stopReason": "end_turn"}, **ours)
    copilot_hook(repo, {"sessionId": session, "timestamp": 1796627077917, "cwd": str(repo), "reason": "complete"}, **ours)
    copilot_hook(repo, {"hook_event_name": "Stop", "session_id": session, "cwd": str(repo),
                        "transcript_path": str(events), "stop_reason": "end_turn"}, **ours)
    found = jobs()
    assert [j["hook_event_name"] for j in found] == ["Stop", "SessionEnd", "Stop"]
    assert all(j["agent"] == "copilot" and j["transcript_path"] == str(events) and j["size"] == 25 for j in found)


def test_a_copilot_hook_acts_only_inside_its_repository(repo, isolated, no_worker, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    copilot_hook(repo, {"sessionId": "s1", "cwd": str(elsewhere), "reason": "complete"}, **{traces.ENV_AGENT: "copilot"})
    assert jobs() == []


def test_copilot_running_claude_codes_hooks_is_not_taken_for_claude(repo, isolated, no_worker):
    """A repository wired for Claude Code: Copilot CLI runs the hooks of its .claude/settings.json
    (in a trusted folder) with Claude-style input naming its own session file. That is
    Copilot's turn, which our own Copilot hook records; Claude Code's input still is a job."""
    events = isolated / ".copilot" / "session-state" / "s1" / "events.jsonl"
    copilot_hook(repo, {"hook_event_name": "Stop", "session_id": "s1", "cwd": str(repo),
                        "transcript_path": str(events), "stop_reason": "end_turn"})
    copilot_hook(repo, {"hook_event_name": "SessionEnd", "session_id": "s1", "cwd": str(repo), "reason": "complete"})
    assert jobs() == []
    transcript = isolated / ".claude" / "projects" / "x" / "s2.jsonl"
    traces.hook(json.dumps({"hook_event_name": "Stop", "session_id": "s2", "cwd": str(repo),
                            "transcript_path": str(transcript)}).encode(),
                {"PATH": os.environ["PATH"], "CLAUDE_PROJECT_DIR": str(repo)})
    assert [(j["hook_event_name"], j.get("agent", "claude")) for j in jobs()] == [("Stop", "claude")]
