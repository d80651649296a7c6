"""End to end with the real Claude Code binary (npm, pinned) against a stand-in Messages API.

`traces init --local --yes` wires a temp repository; Claude Code runs a scripted turn (Write,
Edit, a foreground and a background subagent, a failing Bash) and a `--resume` turn; its own
hooks start our worker; then the stored traces are checked against Claude Code's own ledger.
"""

import json
import os
import sys
import time

import pytest
from claude_harness import claude_bin, claude_env, run_claude, transcript_path
from fakeapi import HOOK_FEEDBACK_ANSWER, FakeAnthropic
from helpers import check_ledger, git

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
    check_ledger(f"scripted turn + --resume, background report {bg_timing}", found, [path])
    ledger = [json.loads(line) for line in open(path) if '"type":"cost-state"' in line][-1]
    cost = sum(float(t.info.tags["cost.usd"]) for t in found)
    assert cost == pytest.approx(ledger["totalCostUSD"], rel=0.01)

    # Claude Code recorded our hook's time itself; the hook must have run at every Stop.
    summaries = [json.loads(line) for line in open(path) if '"subtype":"stop_hook_summary"' in line]
    durations = [h["durationMs"] for s in summaries for h in s.get("hookInfos", []) if "traces.local.sh" in json.dumps(h)]
    assert durations, "no stop_hook_summary for our hook"
    print(f"hook durations recorded by Claude Code (ms): {durations}")

    # Every hook reached the spool, SessionEnd too: the committed command sends the hook to the
    # background, and `claude -p` exits right after SessionEnd.
    log = open(os.path.join(os.environ["TRACES_HOME"], "traces.log")).read()
    assert log.count("SessionEnd") >= 2 and "Stop" in log and "SubagentStop" in log

    # MLflow must not have created ./mlruns in the user's repository.
    assert not (repo / "mlruns").exists()
    assert "ERROR" not in (traces.last_error() or "")


def spooled(event):
    return [j for j in map(traces.read_json_file, traces.pending_jobs()) if j and j.get("hook_event_name") == event]


def test_a_busy_worker_never_finishes_a_resumed_turn_early(repo, isolated, capsys):
    """While a worker is busy (the test holds its lock), the first process's Stop and SessionEnd
    and the resumed process's SubagentStop wait in the spool together. A worker that takes them
    then must not upload the resumed turn, still running its `sleep 5`, before that turn's Stop."""
    assert traces.main(["init", "--local", "--yes"]) == 0
    import subprocess
    traces.need_mlflow()
    traces.open_store(traces.local_store_uri())
    held = traces.worker_lock()
    assert held is not None
    with FakeAnthropic(cwd=os.path.realpath(repo)) as api:
        env = claude_env(isolated, api.url)
        code, session, out, err = run_claude(repo, "CT-SCENARIO plain: first", env)
        assert code == 0, err
        from claude_harness import claude_bin as binary
        resumed = subprocess.Popen([binary(), "-p", "CT-SCENARIO bgresume: go", "--dangerously-skip-permissions",
                                    "--output-format", "json", "--resume", session], cwd=repo, env=env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while not spooled("SubagentStop") and time.time() < deadline:
            time.sleep(0.1)
        final = "All done: the background agent reported and the wait is over."
        assert spooled("SubagentStop") and not [j for j in spooled("Stop") if j.get("size", 0) > 0 and
                                                 j["answer"]["length"] and traces.answers_match(final, j["answer"])]
        os.close(held)
        assert traces.main(["sync"]) == 0       # in this process, mlflow already imported: it reads at once
        out, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, err

    found = wait_for_traces("acme/widgets", 2)
    assert [t.info.response_preview for t in found] == [
        "plain answer", "All done: the background agent reported and the wait is over."]
    check_ledger("--resume with a background agent, worker busy", found, [transcript_path(isolated, repo, session)])


def wait_for(predicate, experiment="acme/widgets", timeout=120):
    """The traces of an experiment once predicate(traces) holds and the spool is empty."""
    deadline = time.time() + timeout
    while True:
        found = wait_for_traces(experiment, 0, timeout=1)
        if (predicate(found) and not traces.pending_jobs()) or time.time() > deadline:
            return found
        time.sleep(0.5)


def test_a_stop_hook_that_exits_2_gets_the_whole_turn_with_a_warm_worker(repo, isolated, capsys, tmp_path):
    """The user's own Stop hook sends Claude back to work once, three seconds after Stop. A warm
    worker (a first session left it running) traces the turn at the first Stop; that trace must
    be replaced by the whole turn, and nothing else added."""
    assert traces.main(["init", "--local", "--yes"]) == 0
    with FakeAnthropic(cwd=os.path.realpath(repo)) as api:
        env = claude_env(isolated, api.url, CLAUDETRACING_WORKER_IDLE="60")
        code, first, out, err = run_claude(repo, "CT-SCENARIO plain: warm up", env)
        assert code == 0, err
        wait_for(lambda f: len(f) == 1)
        flag = tmp_path / "asked-once"
        script = tmp_path / "insist.sh"
        script.write_text(f"#!/bin/sh\ncat >/dev/null\n[ -e {flag} ] && exit 0\ntouch {flag}\nsleep 3\n"
                          "echo 'CT-HOOK-FEEDBACK: please check once more' >&2\nexit 2\n")
        script.chmod(0o755)
        settings = json.loads((repo / ".claude" / "settings.json").read_text())
        settings["hooks"]["Stop"].append({"hooks": [{"type": "command", "command": str(script)}]})
        (repo / ".claude" / "settings.json").write_text(json.dumps(settings))
        code, session, out, err = run_claude(repo, "CT-SCENARIO plain: answer twice", env)
        assert code == 0, err
    assert flag.exists(), "the user's hook ran"
    found = wait_for(lambda f: HOOK_FEEDBACK_ANSWER in [t.info.response_preview for t in f])
    assert sorted(t.info.response_preview for t in found) == [HOOK_FEEDBACK_ANSWER, "plain answer"]
    check_ledger("Stop hook exits 2 once, warm worker", found, [transcript_path(isolated, repo, s) for s in (first, session)])
    log = open(os.path.join(os.environ["TRACES_HOME"], "traces.log")).read()
    assert "replaced the trace" in log, log
    assert len({line.split("[")[1].split("]")[0] for line in log.splitlines() if "job(s)" in line}) == 1, log


def test_continue_adds_its_turn_to_the_same_session(repo, isolated, capsys):
    """`claude -p --continue` goes on in the last session's file: one more trace, same session,
    tokens equal to the ledger (cost-state is per session, so its last entry covers both)."""
    assert traces.main(["init", "--local", "--yes"]) == 0
    with FakeAnthropic(cwd=os.path.realpath(repo)) as api:
        env = claude_env(isolated, api.url)
        code, session, out, err = run_claude(repo, "CT-SCENARIO plain: first", env)
        assert code == 0, err
        code, continued, out, err = run_claude(repo, "CT-SCENARIO resume: go on", env, extra_args=["--continue"])
        assert code == 0, err
    assert continued == session
    found = wait_for(lambda f: len(f) == 2)
    assert [t.info.response_preview for t in found] == ["plain answer", "notes.txt now says alpha and gamma."]
    assert {t.info.trace_metadata["mlflow.trace.session"] for t in found} == {session}
    check_ledger("--continue", found, [transcript_path(isolated, repo, session)])


OURS = ("MLFLOW_", "DATABRICKS_", "TRACES_", "CLAUDETRACING_")


def test_the_users_commands_see_nothing_of_ours(repo, isolated, tmp_path):
    """After init, a command Claude runs for the user sees none of our variables, and the
    user's own MLflow code in it logs where the user pointed it; the turn is still traced."""
    assert traces.main(["init", "--local", "--yes"]) == 0
    check_the_users_commands(repo, isolated, tmp_path, traces.local_store_uri())


def test_the_users_commands_see_nothing_of_ours_with_a_server(repo, isolated, tmp_path, mlflow_server):
    if mlflow_server.backend_store_uri.startswith("postgresql"):
        pytest.skip("one server backend is enough here")
    assert traces.main(["init", "--tracking-uri", mlflow_server.url, "--yes"]) == 0
    check_the_users_commands(repo, isolated, tmp_path, mlflow_server.url)


def check_the_users_commands(repo, isolated, tmp_path, traces_uri):
    users_uri = f"sqlite:///{tmp_path}/users-own.db"
    (repo / "train.sh").write_text(
        f"exec {sys.executable} -c \"import mlflow; mlflow.set_experiment('my-model'); "
        f"r = mlflow.start_run(); mlflow.log_param('lr', 0.1); mlflow.end_run(); print(mlflow.get_tracking_uri())\"\n")
    with FakeAnthropic(cwd=os.path.realpath(repo)) as api:
        # The user's shell points MLflow at their own store; Claude Code passes that on.
        env = claude_env(isolated, api.url, MLFLOW_TRACKING_URI=users_uri)
        code, session, out, err = run_claude(repo, "CT-SCENARIO userenv: train", env)
        assert code == 0, err
    seen = dict(line.split("=", 1) for line in (repo / "env-seen.txt").read_text().splitlines() if "=" in line)
    given = {k: v for k, v in env.items() if k.startswith(OURS)}       # the user's, and the tests' own knob
    assert given["MLFLOW_TRACKING_URI"] == users_uri
    assert {k: v for k, v in seen.items() if k.startswith(OURS)} == given

    import mlflow
    users = mlflow.MlflowClient(users_uri)
    [run] = users.search_runs([users.get_experiment_by_name("my-model").experiment_id])
    assert run.data.params == {"lr": "0.1"}
    client = mlflow.MlflowClient(traces_uri)
    assert client.get_experiment_by_name("my-model") is None          # nothing of theirs in our store
    deadline = time.time() + 120
    while time.time() < deadline:
        exp = client.get_experiment_by_name("acme/widgets")
        try:
            found = client.search_traces(locations=[exp.experiment_id]) if exp else []
        except mlflow.exceptions.MlflowException:
            # Caught between the trace's start and its spans, a server's trace points at an
            # artifact the client then fails to resolve: read again.
            found = []
        if found and not traces.pending_jobs():
            break
        time.sleep(1)
    [trace] = found
    assert trace.info.response_preview == "The training run is logged."
    assert trace.info.trace_metadata["mlflow.trace.session"] == session
