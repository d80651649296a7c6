"""End to end with the real Gemini CLI (offline, tests/fake_gemini.py): `traces init --agent
gemini` writes the project's hooks, `gemini -p` then `gemini -p --resume latest` (twice, the
last with another model) run three turns of one session in a trusted folder, the hooks (AfterAgent,
SessionEnd) spool them, and the worker uploads one trace per turn whose tokens add up to Gemini's
own ledger (`-o json` stats, summed over the session's processes)."""

import json
import os

import pytest
from fake_gemini import FakeGemini
from gemini_harness import GEMINI_VERSION, find_chat, gemini_bin, gemini_env, gemini_home, ledger_total, run_gemini
from helpers import git, synced

import traces

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(gemini_bin() is None, reason="Gemini CLI not installed: make gemini")]


def tags_total(found, kind):
    return sum(int(t.info.tags[f"tokens.{kind}"]) for t in found)


def make_repo(path):
    """A git repository whose folder name has a space (Gemini CLI quotes it into hook commands)."""
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("# widgets\n")
    git(path, "add", "README.md")
    git(path, "commit", "-q", "-m", "first")
    return path


def test_three_gemini_turns_of_one_resumed_session_become_three_traces(tmp_path, monkeypatch, capsys):
    repo = make_repo(tmp_path / "my widgets")
    monkeypatch.chdir(repo)
    home = gemini_home(tmp_path / "gemini-home")
    monkeypatch.setenv("HOME", str(home))
    assert traces.main(["init", "--agent", "gemini", "--local", "--yes"]) == 0
    git(repo, "add", ".gemini/settings.json")
    git(repo, "commit", "-q", "-m", "trace Gemini CLI")
    runs = []
    with FakeGemini() as api:
        env = gemini_env(home, api.url, TRACES_HOME=os.environ["TRACES_HOME"])
        runs.append(run_gemini(repo, "Check the repository.\nRUN: git status --short\nRUN: ls /nonexistent-ct-dir; "
                                     "exit 3\nWRITE: notes.txt", env))
        assert runs[0].returncode == 0, runs[0].stderr[-2000:]
        client, found = synced(repo, 1)
        assert len(found) == 1
        runs.append(run_gemini(repo, "What does the README say?\nRUN: cat README.md", env, resume=True))
        runs.append(run_gemini(repo, "Thanks. Anything else?", env, resume=True, model="gemini-2.5-pro"))
        assert [r.returncode for r in runs] == [0, 0, 0], runs[-1].stderr[-2000:]
        client, found = synced(repo, 3)
    session = runs[0].session_id
    assert {r.session_id for r in runs} == {session}                     # one session, resumed
    assert len(found) == 3                                              # one per turn, none twice
    assert {t.info.tags["agent"] for t in found} == {"gemini"}
    assert {t.info.trace_metadata["mlflow.trace.session"] for t in found} == {session}
    assert found[0].info.trace_metadata["mlflow.source.name"] == "gemini-cli"
    spans = client.get_trace(found[0].info.trace_id).data.spans
    assert [s.name for s in spans if s.parent_id is None] == ["gemini_cli_conversation"]
    tools = [s for s in spans if s.name.startswith("tool_")]
    assert [s.name for s in tools] == ["tool_run_shell_command"] * 2 + ["tool_write_file"]
    assert [s.status.status_code for s in tools] == ["OK", "ERROR", "OK"]
    assert [s.attributes.get("claudetracing.exit_code") for s in tools[:2]] == [0, 3]
    assert len([s for s in spans if s.span_type == "LLM"]) == 4
    assert found[0].info.tags["files.count"] == "1"
    assert json.loads(found[0].info.tags["files.modified"]) == ["notes.txt"]
    assert found[0].info.tags["git.branch"] == "main"
    assert float(found[0].info.tags["cost.usd"]) > 0
    # Gemini's own ledger, summed over the session's three processes, is what the traces hold.
    ledger = ledger_total(runs)
    assert tags_total(found, "total") == ledger["total"]
    assert tags_total(found, "cache_read") == ledger["cached"]
    assert tags_total(found, "input") == ledger["input"] + ledger["tool"]
    assert tags_total(found, "output") == ledger["candidates"] + ledger["thoughts"]
    with capsys.disabled():         # the token table of the report: ours against Gemini's own
        print(f"\ngemini {GEMINI_VERSION} session {session}: ours (input, cache_read, output, total) = "
              f"{tuple(tags_total(found, k) for k in ('input', 'cache_read', 'output', 'total'))}; Gemini's -o json: {ledger}")
    chat = find_chat(home, session)
    records, _, _ = traces.gemini_read(str(chat))
    assert sum(t["usage"]["total"] for t in traces.gemini_turns(records, traces.gemini_session_meta(str(chat)))) \
        == ledger["total"]
    capsys.readouterr()
    assert traces.main(["search", "--agent", "gemini", "-l", "10", "-f", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["traces"]) == 3
    assert traces.main(["report", "--by", "agent"]) == 0
    assert "gemini" in capsys.readouterr().out
