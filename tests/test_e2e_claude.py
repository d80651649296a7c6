"""End to end with the real Claude Code binary (npm, pinned) against a stand-in Messages API.

`traces init --local --yes` wires a temp repository; Claude Code runs a scripted turn (Write,
Edit, a foreground and a background subagent, a failing Bash) and a `--resume` turn; its own
hooks start our worker; then the stored traces are checked against Claude Code's own ledger.
"""

import json
import os
import time

import pytest
from claude_harness import claude_bin, claude_env, run_claude, transcript_path
from fakeapi import FakeAnthropic
from helpers import git

import traces

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(claude_bin() is None, reason="Claude Code not installed: make claude")]


def wait_for_traces(experiment, count, timeout=120):
    traces.need_mlflow()
    client = traces.open_store(traces.local_store_uri())
    deadline = time.time() + timeout
    found = []
    while time.time() < deadline:
        exp = client.get_experiment_by_name(experiment)
        found = client.search_traces(locations=[exp.experiment_id], max_results=50) if exp else []
        if len(found) >= count and not traces.pending_jobs():
            break
        time.sleep(1)
    return sorted(found, key=lambda t: t.info.request_time)


def spans_by_parent(trace):
    children = {}
    for span in trace.data.spans:
        children.setdefault(span.parent_id, []).append(span)
    for spans in children.values():
        spans.sort(key=lambda s: s.start_time_ns)
    return children


# Claude Code 2.1.330 delivers a background agent's report after the turn (a new user line that
# Claude answers) or, when the agent finishes first, inside the running turn: run both.
@pytest.mark.parametrize("bg_timing", ["after-turn", "mid-turn"])
def test_a_real_session_becomes_one_trace_per_turn(repo, isolated, capsys, bg_timing):
    assert traces.main(["init", "--local", "--yes"]) == 0
    assert "reaches traces" in capsys.readouterr().out
    home = isolated
    with FakeAnthropic(cwd=os.path.realpath(repo), bg_timing=bg_timing) as api:
        env = claude_env(home, api.url)
        code, session, out, err = run_claude(repo, "CT-SCENARIO main: please do the scripted work", env)
        assert code == 0, err
        code, resumed, out, err = run_claude(repo, "CT-SCENARIO resume: read notes.txt", env, resume=session)
        assert code == 0, err
    assert resumed == session

    found = wait_for_traces("acme/widgets", 2)
    assert len(found) == 2, f"expected 2 traces, log: {open(os.path.join(os.environ['TRACES_HOME'], 'traces.log')).read()}"
    first, second = found
    assert first.info.request_preview.startswith("CT-SCENARIO main")
    assert second.info.request_preview.startswith("CT-SCENARIO resume")
    assert all(t.info.trace_metadata["mlflow.trace.session"] == session for t in found)

    # The span tree of the scripted turn.
    children = spans_by_parent(first)
    [root] = children[None]
    assert root.name == "claude_code_conversation" and root.span_type == "AGENT"
    top = children[root.span_id]
    tool_names = [s.name for s in top if s.span_type == "TOOL"]
    assert tool_names == ["tool_Write", "tool_Edit", "tool_Agent", "tool_Agent", "tool_Bash"]
    assert sum(s.name == "llm" for s in top) >= 5
    bash = next(s for s in top if s.name == "tool_Bash")
    assert bash.status.status_code == "ERROR"
    for agent_call in (s for s in top if s.name == "tool_Agent"):
        [sub] = children[agent_call.span_id]
        assert sub.name == "subagent_general-purpose" and sub.span_type == "AGENT"
        assert any(s.name == "llm" for s in children[sub.span_id])
    write = next(s for s in top if s.name == "tool_Write")
    assert write.inputs["file_path"].endswith("notes.txt") and write.start_time_ns < write.end_time_ns

    # Enrichment tags.
    tags = first.info.tags
    assert tags["git.branch"] == "main" and tags["git.commit_id"] == git(repo, "rev-parse", "HEAD")
    assert tags["git.repo_name"] == "acme/widgets" and tags["git.remote_url"] == "git@github.com:acme/widgets.git"
    assert json.loads(tags["files.modified"]) == ["notes.txt"]
    assert json.loads(tags["claudetracing.tools"]) == {"Agent": 2, "Bash": 2, "Edit": 1, "Read": 1, "Write": 1}

    # Token totals equal Claude Code's own ledger; cost within 1 %.
    path = transcript_path(home, repo, session)
    states = [json.loads(line) for line in open(path) if '"type":"cost-state"' in line]
    ledger = states[-1]
    expected = {k: sum(u[f] for u in ledger["modelUsage"].values()) for k, f in (
        ("input", "inputTokens"), ("output", "outputTokens"), ("cache_read", "cacheReadInputTokens"),
        ("cache_creation", "cacheCreationInputTokens"))}
    ours = {k: sum(int(t.info.tags[f"tokens.{k}"]) for t in found) for k in expected}
    assert ours == expected
    cost = sum(float(t.info.tags["cost.usd"]) for t in found)
    assert cost == pytest.approx(ledger["totalCostUSD"], rel=0.01)

    # Claude Code recorded our hook's time itself; the hook must have run at every Stop.
    summaries = [json.loads(line) for line in open(path) if '"subtype":"stop_hook_summary"' in line]
    durations = [h["durationMs"] for s in summaries for h in s.get("hookInfos", []) if "CLAUDETRACING_HOOK" in json.dumps(h)]
    assert durations, "no stop_hook_summary for our hook"
    print(f"hook durations recorded by Claude Code (ms): {durations}")

    # Every hook reached the spool, SessionEnd too: the committed command sends the hook to the
    # background, and `claude -p` exits right after SessionEnd.
    log = open(os.path.join(os.environ["TRACES_HOME"], "traces.log")).read()
    assert log.count("SessionEnd") >= 2 and "Stop" in log and "SubagentStop" in log

    # MLflow must not have created ./mlruns in the user's repository.
    assert not (repo / "mlruns").exists()
    assert "ERROR" not in (traces.last_error() or "")
