"""End to end with the real GitHub Copilot CLI (offline, tests/fake_openai_chat.py): a repository
wired for Claude Code and Copilot CLI (`traces init --agent claude,copilot`), three `copilot -p`
processes in one session (new, --continue, --resume=<id>) in a folder trusted for the run, so
that Copilot runs the hooks of .claude/settings.json as well as ours: one trace per turn, none
twice, whose tokens add up to Copilot's own session.shutdown ledger."""

import json
import os
from pathlib import Path

import pytest
from codex_harness import make_repo
from copilot_harness import COPILOT, LEDGER, copilots_ledger, run_copilot, session_files
from fake_openai_chat import FakeChat
from helpers import synced

import traces

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not COPILOT.exists(), reason="Copilot CLI not installed: make copilot")]


def test_copilot_turns_become_one_trace_each(tmp_path, monkeypatch, capsys):
    repo = make_repo(tmp_path / "my widgets")
    monkeypatch.chdir(repo)
    assert traces.main(["init", "--agent", "claude,copilot", "--local", "--yes"]) == 0
    home, ran = Path(os.environ["HOME"]), tmp_path / "claude-hooks-ran"
    settings = json.loads((repo / ".claude" / "settings.json").read_text())     # a witness that Copilot
    settings["hooks"]["Stop"].append({"hooks": [{"type": "command", "command": f"touch '{ran}'"}]})  # runs them
    (repo / ".claude" / "settings.json").write_text(json.dumps(settings))
    # COPILOT_ALLOW_ALL trusts the folder for every run (--trust-folder is refused with --continue).
    hooks_env = {"TRACES_HOME": os.environ["TRACES_HOME"], "COPILOT_ALLOW_ALL": "true"}
    with FakeChat() as api:
        run = lambda prompt, *flags: run_copilot(home, repo, api.url, prompt, *flags, env=hooks_env)  # noqa: E731
        run(f"Look around.\nRUN: git status --short\nRUN: ls /nonexistent-ct-dir\nWRITE: {repo}/notes.txt")
        client, found = synced(repo, 1)
        assert len(found) == 1
        (events,) = session_files(home)
        session = events.parent.name
        run("Count.\nRUN: wc -l README.md", "--continue")
        run("What did you find?", f"--resume={session}")
        client, found = synced(repo, 3)
    assert ran.exists()                        # Copilot ran Claude Code's hooks too, and they
    log = Path(os.environ["TRACES_HOME"], "traces.log")   # left Copilot's turns to our Copilot hook
    assert "refused a transcript outside" not in log.read_text()
    assert len(found) == 3                                     # one per turn, none twice
    assert {t.info.tags["agent"] for t in found} == {"copilot"}
    assert {t.info.trace_metadata["mlflow.trace.session"] for t in found} == {session}
    assert found[0].info.trace_metadata["mlflow.source.name"] == "copilot-cli"
    spans = client.get_trace(found[0].info.trace_id).data.spans
    assert [s.name for s in spans if s.parent_id is None] == ["copilot_cli_conversation"]
    assert sum(s.name == "llm" for s in spans) == 4
    tools = [s for s in spans if s.name.startswith("tool_")]
    assert [(s.name, s.status.status_code) for s in tools] == [("tool_bash", "OK"), ("tool_bash", "ERROR"),
                                                               ("tool_create", "OK")]
    assert [s.attributes.get("claudetracing.exit_code") for s in tools[:2]] == [0, 2]
    assert json.loads(found[0].info.tags["files.modified"]) == ["notes.txt"] and found[0].info.tags["files.count"] == "1"
    ours = {key: sum(int(t.info.tags[f"tokens.{key}"]) for t in found) for key in LEDGER}
    theirs = copilots_ledger(events)
    with capsys.disabled():                    # the table, for the record (pytest -s)
        print("\n[ledger] copilot, 3 turns in one session (new, --continue, --resume)")
        print(f"{'tokens':<16}{'ours (tags)':>14}{'session.shutdown':>18}")
        for key in LEDGER:
            print(f"{key:<16}{ours[key]:>14}{theirs[key]:>18}")
    assert ours == theirs
    capsys.readouterr()
    assert traces.main(["search", "--agent", "copilot", "-l", "10", "-f", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["traces"]) == 3
