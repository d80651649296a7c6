"""End to end with the real Codex CLI (offline, tests/fake_openai.py): `traces init --agent
codex` wires and trusts the hooks, `codex exec` then `codex exec resume --last` run two turns,
the hooks (trusted as init wrote them, no --dangerously-bypass-hook-trust) spool them, and the
worker uploads one trace per turn whose tokens add up to Codex's own session total."""

import json
import os

import pytest
from codex_harness import codex_bin, codex_env, codex_home, find_rollout, last_token_count, make_repo, run_codex
from fake_openai import FakeOpenAI
from helpers import synced

import traces

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(codex_bin() is None, reason="Codex CLI not installed: make codex")]


def test_two_codex_turns_become_two_traces(tmp_path, monkeypatch, capsys):
    repo = make_repo(tmp_path / "widgets")
    with FakeOpenAI() as api:
        home = codex_home(tmp_path / "codex-home", api.url)
        monkeypatch.setenv("CODEX_HOME", str(home))
        monkeypatch.chdir(repo)
        assert traces.main(["init", "--agent", "codex", "--local", "--yes"]) == 0
        env = codex_env(home, TRACES_HOME=os.environ["TRACES_HOME"])
        first = run_codex(repo, "RUN: git status --short\nRUN: ls /nonexistent-ct-dir; exit 3", env)
        assert first.returncode == 0, first.stderr[-2000:]
        client, found = synced(repo, 1)
        assert len(found) == 1
        again = run_codex(repo, "RUN: cat README.md", env, resume="last")
        assert again.returncode == 0, again.stderr[-2000:]
        client, found = synced(repo, 2)
    assert len(found) == 2                                      # one per turn, none twice
    assert {t.info.tags["agent"] for t in found} == {"codex"}
    assert {t.info.trace_metadata["mlflow.trace.session"] for t in found} == {first.session_id}
    spans = client.get_trace(found[0].info.trace_id).data.spans
    tools = [s for s in spans if s.name.startswith("tool_")]
    assert [s.status.status_code for s in tools] == ["OK", "ERROR"]
    assert "exited with code 3" in json.dumps(tools[1].outputs)
    assert [s.attributes.get("claudetracing.exit_code") for s in tools] == [0, 3]
    assert [s.name for s in spans if s.parent_id is None] == ["codex_conversation"]
    assert found[0].info.trace_metadata["mlflow.source.name"] == "codex-cli"
    totals = [int(t.info.tags["tokens.total"]) for t in found]
    assert all(totals)
    assert sum(totals) == traces.codex_usage(last_token_count(find_rollout(home, first.session_id)))["total"]
    capsys.readouterr()
    assert traces.main(["search", "--agent", "codex", "-l", "10", "-f", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["traces"]) == 2
    assert traces.main(["search", "--agent", "claude", "-l", "10", "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["traces"] == []
    assert traces.main(["report", "--by", "agent"]) == 0
    assert "codex" in capsys.readouterr().out
