"""End to end with the real Claude Code binary run INTERACTIVELY (in tmux), as most people use it.

`traces init --local --yes` wires a temp repository; tests/tty_harness.py types prompts, `/clear`
and Escape into a real `claude` against the stand-in API (tests/fakeapi.py); after `/exit` the
stored traces are checked: one trace per prompt with the final answer, an interrupted turn
tagged as such, the session a `/clear` came from, and token totals equal to Claude Code's own
ledger (the last `cost-state` line of each session's transcript).
"""

import json
import os
import time

import pytest
from claude_harness import claude_bin, claude_env, transcript_path
from fakeapi import FakeAnthropic
from helpers import check_ledger
from tty_harness import InteractiveClaude, have_tmux

import traces

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(claude_bin() is None, reason="Claude Code not installed: make claude"),
    pytest.mark.skipif(not have_tmux(), reason="tmux not installed"),
]

EXPERIMENT = "acme/widgets"           # traces init names it after the origin remote
PLAIN_ANSWER = "plain answer"         # fakeapi's `plain` scenario
TAG_PARENT = "claudetracing.parent_session"


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def wired(repo, isolated, capsys):
    """The repository with our hooks in .claude/settings.json; returns (repo, home)."""
    assert traces.main(["init", "--local", "--yes"]) == 0
    capsys.readouterr()
    return repo, isolated


def wait_for_traces(count, timeout=60, settle=5):
    """Traces of the experiment once `count` exist and the spool is empty.

    Also returns (fewer) once the spool has stayed empty for `settle` seconds after the
    session ended, so that a missing trace fails in seconds rather than at the timeout.
    """
    traces.need_mlflow()
    client = traces.open_store(traces.local_store_uri())
    deadline, drained_since, found = time.time() + timeout, None, []
    while time.time() < deadline:
        exp = client.get_experiment_by_name(EXPERIMENT)
        found = client.search_traces(locations=[exp.experiment_id], max_results=50) if exp else []
        drained = not traces.pending_jobs()
        if drained and len(found) >= count:
            break
        drained_since = (drained_since or time.time()) if drained else None
        if drained_since and time.time() - drained_since > settle:
            break
        time.sleep(1)
    return sorted(found, key=lambda t: t.info.request_time)


def traces_log():
    path = os.path.join(os.environ["TRACES_HOME"], "traces.log")
    return open(path).read() if os.path.exists(path) else "(no traces.log)"


def our_hook_runs(path):
    """How many Stop hook runs of ours Claude Code recorded in a transcript (stop_hook_summary)."""
    summaries = [json.loads(line) for line in open(path) if '"subtype":"stop_hook_summary"' in line]
    return sum("traces.local.sh" in json.dumps(h) for s in summaries for h in s.get("hookInfos", []))


def check_traces(found, prompts, answers, log):
    """One trace per prompt, in order, each answered with its turn's final text."""
    assert [t.info.request_preview for t in found] == prompts, log
    assert [t.info.response_preview for t in found] == answers, log


# --------------------------------------------------------------------------- tests


def test_three_prompts_in_one_session(wired):
    repo, home = wired
    prompts = [f"CT-SCENARIO plain: prompt {n}" for n in (1, 2, 3)]
    with FakeAnthropic(cwd=os.path.realpath(repo)) as api, \
            InteractiveClaude(repo, claude_env(home, api.url)) as claude:
        for prompt in prompts:
            claude.send_prompt(prompt)
        [session] = claude.exit()
    path = transcript_path(home, repo, session)
    assert our_hook_runs(path) == 3  # the harness part: three turns, our Stop hook after each

    found = wait_for_traces(3)
    log = f"traces.log:\n{traces_log()}"
    check_traces(found, prompts, [PLAIN_ANSWER] * 3, log)
    assert {t.info.trace_metadata["mlflow.trace.session"] for t in found} == {session}
    check_ledger("interactive: three prompts", found, [path])


def test_clear_starts_a_new_session_that_names_the_old_one(wired):
    repo, home = wired
    prompts = ["CT-SCENARIO plain: before clear", "CT-SCENARIO plain: after clear"]
    with FakeAnthropic(cwd=os.path.realpath(repo)) as api, \
            InteractiveClaude(repo, claude_env(home, api.url)) as claude:
        claude.send_prompt(prompts[0])
        claude.slash("/clear")
        claude.send_prompt(prompts[1])
        old, new = claude.exit()
    paths = [transcript_path(home, repo, s) for s in (old, new)]
    assert [our_hook_runs(p) for p in paths] == [1, 1]

    found = wait_for_traces(2)
    log = f"traces.log:\n{traces_log()}"
    check_traces(found, prompts, [PLAIN_ANSWER] * 2, log)
    assert [t.info.trace_metadata["mlflow.trace.session"] for t in found] == [old, new]
    # Claude Code gives /clear a fresh session id; the trace keeps where it came from.
    first, second = (t.info.trace_metadata.get(TAG_PARENT) or t.info.tags.get(TAG_PARENT) for t in found)
    assert (first, second) == (None, old), log
    check_ledger("interactive: prompt, /clear, prompt", found, paths)


def test_escape_interrupts_a_turn_that_is_still_traced(wired):
    repo, home = wired
    prompts = ["CT-SCENARIO slow: run the long command", "CT-SCENARIO plain: after the interrupt"]
    with FakeAnthropic(cwd=os.path.realpath(repo)) as api, \
            InteractiveClaude(repo, claude_env(home, api.url)) as claude:
        claude.send_prompt(prompts[0], wait=False)
        claude.wait_for_screen("to run in background")  # the Bash tool is running
        claude.press_escape()
        claude.send_prompt(prompts[1])
        [session] = claude.exit()
    path = transcript_path(home, repo, session)
    assert our_hook_runs(path) == 1  # Claude Code runs no Stop hook for an interrupted turn

    found = wait_for_traces(2)
    log = f"traces.log:\n{traces_log()}"
    # The interrupted turn's final answer is the last text Claude wrote before the tool call.
    check_traces(found, prompts, ["Starting a long command.", PLAIN_ANSWER], log)
    assert [t.info.tags.get("claudetracing.status") for t in found] == ["interrupted", "ok"], log
    check_ledger("interactive: Escape during a long tool, then a prompt", found, [path])
