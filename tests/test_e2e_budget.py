"""Budgets with the real Claude Code binary: a session that passes its cap is warned, then its
next prompt is refused before any request reaches the (stand-in) API, and raising the budget
lifts the block at once."""

import json
import os
import time

import pytest
from claude_harness import claude_bin, claude_env, run_claude, transcript_path
from codex_harness import codex_bin, codex_env, codex_home, run_codex
from fake_gemini import FakeGemini
from fake_openai import FakeOpenAI
from fakeapi import FakeAnthropic
from gemini_harness import gemini_bin, gemini_env, gemini_home, run_gemini

import traces

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(claude_bin() is None, reason="Claude Code not installed: make claude")]


def session_spend(session, turns, timeout=90):
    """The session's spend once the worker has counted this many of its turns."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        entry = traces.read_summary()["sessions"].get(session) or {}
        if len(entry.get("turns", {})) >= turns:
            return sum(entry["turns"].values())
        time.sleep(0.3)
    raise AssertionError(f"the worker did not count {turns} turn(s) of {session}: {traces.read_summary()}")


def test_a_session_is_warned_then_blocked_then_lifted_by_a_raised_budget(repo, isolated, capsys):
    assert traces.main(["init", "--local", "--yes"]) == 0
    with FakeAnthropic(cwd=os.path.realpath(repo)) as api:
        env = claude_env(isolated, api.url, TRACES_HOME=os.environ["TRACES_HOME"])
        code, session, out, err = run_claude(repo, "CT-SCENARIO plain: first", env)
        assert code == 0, err
        first = session_spend(session, 1)
        assert first > 0
        # Warn from 50 %, refuse at 100 %: after one more turn the session is past its cap.
        assert traces.main(["budget", "set", "--session", f"{first * 1.5:.6f}", "--warn-at", "50", "--block"]) == 0
        code, _, out, err = run_claude(repo, "CT-SCENARIO plain: second", env, resume=session)
        assert code == 0, err
        session_spend(session, 2)
        warned = [json.loads(line)["attachment"] for line in open(transcript_path(isolated, repo, session))
                  if '"hook_system_message"' in line]
        assert [w["content"] for w in warned] == [
            f"claudetracing: this session has spent {traces.dollars(first)} of its "
            f"{traces.dollars(float(f'{first * 1.5:.6f}'))} session budget (67 %)."]
        sent = len(api.requests)
        code, _, out, err = run_claude(repo, "CT-SCENARIO plain: third", env, resume=session)
        assert len(api.requests) == sent, "a blocked prompt reached the API"
        result = json.loads(out.strip().splitlines()[-1])["result"]
        assert result.startswith("UserPromptSubmit operation blocked by hook:\nclaudetracing: this session has spent ")
        assert "session budget (133 %); this prompt was not sent. Raise it (`traces budget set --session" in result
        capsys.readouterr()
        assert traces.main(["budget", "set", "--session", f"{first * 10:.6f}"]) == 0
        code, _, out, err = run_claude(repo, "CT-SCENARIO plain: fourth", env, resume=session)
        assert code == 0, err
        assert len(api.requests) > sent
        assert json.loads(out.strip().splitlines()[-1])["result"] == "plain answer"


def spend(project, session, usd):
    """Spend as the worker counts it (a turn of this session), with the hook's files rewritten."""
    turn = {"id": f"{session}:1", "cost": usd, "meta": {"git_branch": "main"}, "end": time.time()}
    traces.count_spend(session, str(project), turn)      # as the worker counts it


@pytest.mark.skipif(gemini_bin() is None, reason="Gemini CLI not installed: make gemini")
def test_gemini_cli_is_refused_past_a_day_budget_and_let_through_once_it_is_raised(repo, isolated, capsys):
    assert traces.main(["init", "--local", "--yes", "--agent", "gemini"]) == 0
    assert traces.main(["budget", "set", "--day", "1", "--block"]) == 0
    spend(repo, "an-earlier-session", 1.5)
    with FakeGemini() as api:
        env = gemini_env(gemini_home(isolated), api.url, TRACES_HOME=os.environ["TRACES_HOME"])
        refused = run_gemini(repo, "hello", env)
        assert api.requests == [], "a refused prompt reached the API"
        assert "claudetracing: today has spent $1.50 of its $1.00 day budget (150 %)" in refused.stdout + refused.stderr
        assert traces.main(["budget", "set", "--day", "5"]) == 0
        passed = run_gemini(repo, "hello", env)
        assert passed.returncode == 0 and api.requests


@pytest.mark.skipif(codex_bin() is None, reason="Codex CLI not installed: make codex")
def test_codex_is_warned_then_refused_past_a_session_budget_and_let_through_once_it_is_raised(repo, tmp_path,
                                                                                               monkeypatch):
    with FakeOpenAI() as api:
        home = codex_home(tmp_path / "codex-home", api.url)
        config = home / "config.toml"           # a model traces knows the price of: the turns cost something
        config.write_text(config.read_text().replace('model = "gpt-test"', 'model = "gpt-5"', 1))
        monkeypatch.setenv("CODEX_HOME", str(home))
        assert traces.main(["init", "--agent", "codex", "--local", "--yes"]) == 0
        env = codex_env(home, TRACES_HOME=os.environ["TRACES_HOME"])
        first = run_codex(repo, "first", env)
        assert first.returncode == 0, first.stderr[-2000:]
        cost = session_spend(first.session_id, 1)
        assert cost > 0
        # Warn from 50 %, refuse at 100 %: after one more turn (its input partly cached, so cheaper
        # than the first) the session is past its cap.
        cap = float(f"{cost * 1.2:.6f}")
        assert traces.main(["budget", "set", "--session", str(cap), "--warn-at", "50", "--block"]) == 0
        (repo / "src").mkdir()
        sent = len(api.requests)
        second = run_codex(repo / "src", "second", env, resume=first.session_id)
        assert second.returncode == 0, second.stderr[-2000:]
        assert len(api.requests) > sent
        # A warning is for the user (systemMessage): Codex neither fails the hook nor gives it to the model.
        assert not [r for r in api.response_requests() if "claudetracing" in json.dumps(r)]
        assert session_spend(first.session_id, 2) > cap
        sent = len(api.requests)
        third = run_codex(repo / "src", "third", env, resume=first.session_id)
        assert len(api.requests) == sent, "a refused prompt reached the API"
        assert "agent_message" not in third.stdout
        assert traces.main(["budget", "set", "--session", f"{cost * 10:.6f}"]) == 0
        fourth = run_codex(repo, "fourth", env, resume=first.session_id)
        assert fourth.returncode == 0, fourth.stderr[-2000:]
        assert len(api.requests) > sent and "agent_message" in fourth.stdout
        assert traces.main(["budget", "off"]) == 0
        assert "UserPromptSubmit" not in json.loads((home / "hooks.json").read_text())["hooks"]
