"""`traces statusline` in a real interactive Claude Code (in tmux): the status line shows the
turns being traced, and a stopped backend as turns waiting."""

import os
import time

import pytest
from claude_harness import claude_bin, claude_env
from fakeapi import FakeAnthropic
from servers import MlflowServer
from tty_harness import InteractiveClaude, have_tmux

import traces

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(claude_bin() is None, reason="Claude Code not installed: make claude"),
    pytest.mark.skipif(not have_tmux(), reason="tmux not installed"),
]


def wait_until(condition, what, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.3)
    log = open(os.path.join(os.environ["TRACES_HOME"], "traces.log")).read()[-3000:] if os.path.exists(
        os.path.join(os.environ["TRACES_HOME"], "traces.log")) else "(no log)"
    raise AssertionError(f"timed out waiting for {what}; summary: {traces.read_summary()}\n{log}")


def traced_line(session):
    """The line the status line should show now, from the summary the worker keeps."""
    entry = traces.read_summary()["sessions"].get(session) or {}
    turns, spent = len(entry.get("turns", {})), traces.dollars(sum(entry.get("turns", {}).values()))
    return f"traces ✓ {turns} turn{'' if turns == 1 else 's'} · session {spent} · today {spent} · main {spent}"


def test_the_status_line_shows_turns_traced_then_a_stopped_backend_as_waiting(repo, isolated, capsys):
    with MlflowServer() as server:
        assert traces.main(["init", "--tracking-uri", server.url, "--yes", "--statusline"]) == 0
        env = claude_env(isolated, "", TRACES_HOME=os.environ["TRACES_HOME"], MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
                         MLFLOW_HTTP_REQUEST_TIMEOUT="5")
        with FakeAnthropic(cwd=os.path.realpath(repo)) as api, \
                InteractiveClaude(repo, {**env, "ANTHROPIC_BASE_URL": api.url}) as claude:
            claude.wait_for_screen("traces ✓ 0 turns · session $0.0000 · today $0.0000 · main $0.0000", timeout=90)
            # An interactive turn can be held until the next prompt shows it over (the worker
            # waits, bounded, for its last lines): two prompts, then the first is traced.
            claude.send_prompt("CT-SCENARIO plain: one")
            claude.send_prompt("CT-SCENARIO plain: two")
            [session] = claude.session_ids()
            wait_until(lambda: traces.read_summary()["sessions"].get(session, {}).get("turns")
                       and not traces.pending_jobs() and traced_line(session) in claude.screen(),
                       "the status line to show the turns traced")
            server.stop()
            claude.send_prompt("CT-SCENARIO plain: three")
            claude.wait_for_screen("traces ⏳ 1 waiting", timeout=90)
            wait_until(lambda: traces.read_summary().get("trouble"), "the worker to meet the stopped server")
            claude.wait_for_screen("traces ⏳ 1 waiting: cannot ", timeout=90)
            server.start()
            wait_until(lambda: not traces.pending_jobs() and traced_line(session) in claude.screen()
                       and "traces ✓ 1 turn ·" not in claude.screen(), "the waiting turn to upload", timeout=300)
