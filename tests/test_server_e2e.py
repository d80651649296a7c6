"""A team's self-hosted `mlflow server` on PostgreSQL, end to end: init, hook, worker, search,
with the server going down and coming back. Also: the module with no site-packages at all."""

import json
import os
import subprocess
import sys
import time

import pytest
from helpers import ROOT, committed_hook, traces_cli
from servers import MlflowServer, find_pg_bindir
from transcripts import Transcript

import traces

needs_postgres = pytest.mark.skipif(find_pg_bindir() is None, reason="PostgreSQL is not installed (make system-deps)")


def stop_hook(repo, session, path, message):
    """Run the committed hook command as Claude Code does; wait until its job is in the spool."""
    payload = {"session_id": session, "transcript_path": path, "cwd": str(repo), "hook_event_name": "Stop",
               "last_assistant_message": message, "stop_hook_active": False}
    # The env Claude Code would give the hook: nothing of ours, the project's folder.
    # No detached worker: the test runs `traces sync` itself, so it knows when the spool drained.
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(repo), "CLAUDETRACING_PYTHON": "/bin/true"}
    before = len(traces.pending_jobs())
    started = time.perf_counter()
    done = subprocess.run(["sh", "-c", committed_hook(repo)], input=json.dumps(payload).encode(), env=env,
                          capture_output=True, cwd=repo)
    assert done.returncode == 0 and done.stdout == b"" and time.perf_counter() - started < 5
    wait_for(lambda: len(traces.pending_jobs()) > before)


def wait_for(condition, timeout=30):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
@needs_postgres
def test_init_hook_worker_search_on_a_postgres_server_that_goes_down(repo, postgres, capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with MlflowServer(postgres.create_database("team")) as server:
        assert traces.main(["init", "--tracking-uri", server.url, "--yes"]) == 0
        assert "experiment acme/widgets" in capsys.readouterr().out

        projects = os.path.join(os.environ["HOME"], ".claude", "projects")
        t = Transcript(session="sess-team", cwd=str(repo))
        t.prompt("first task")
        t.result(t.tool("Write", {"file_path": str(repo / "a.py"), "content": "x"}), "ok")
        t.text("first done")
        path = t.write(projects)
        stop_hook(repo, "sess-team", path, "first done")
        assert traces.main(["sync", "--wait", "60"]) == 0

        server.stop()
        t.prompt("second task")
        t.text("second done")
        t.write(projects)
        stop_hook(repo, "sess-team", path, "second done")      # Claude does not wait for a dead server
        assert traces.main(["sync", "--wait", "3"]) == 1
        assert "still waiting" in capsys.readouterr().err
        assert len(traces.pending_jobs()) == 1

        server.start()
        assert traces.main(["sync", "--wait", "60"]) == 0
        assert traces.pending_jobs() == []
        capsys.readouterr()
        assert traces.main(["search", "-f", "json"]) == 0
        found = json.loads(capsys.readouterr().out)["traces"]
        assert sorted(t["request_preview"] for t in found) == ["first task", "second task"]
        assert len({t["tags"]["claudetracing.turn_id"] for t in found}) == 2
        first = next(t for t in found if t["request_preview"] == "first task")
        assert json.loads(first["tags"]["files.modified"]) == ["a.py"]
        assert traces.main(["search", "--tool", "Write"]) == 0
        assert "first task" in capsys.readouterr().out
        # Reading everything pages within the server's limit (500 traces a page).
        for argv in (["search", "-l", "600"], ["search", "-l", "0"], ["report"]):
            assert traces.main(argv) == 0, capsys.readouterr().err
            assert "second task" in capsys.readouterr().out or argv[0] == "report"


def test_no_site_packages_needed_for_what_does_not_talk_to_mlflow(repo):
    bare = [sys.executable, "-S", str(ROOT / "traces.py")]
    for args in (["--help"], ["--version"], ["status", "--json"], ["enrichment", "list"]):
        done = subprocess.run(bare + args, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert subprocess.run(bare + ["init", "--local", "--yes"], capture_output=True).returncode == 0
    done = subprocess.run(bare + ["hook"], input=b"garbage", capture_output=True)
    assert done.returncode == 0 and done.stdout == b""
    done = subprocess.run(bare + ["search"], capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr.startswith("Error: ")
    assert traces_cli("disable", cwd=repo).returncode == 0


def test_init_warns_when_the_hooks_python_has_no_mlflow(repo, tmp_path):
    """Installed without the [mlflow] extra: the hook runs, but the worker could never upload."""
    bare = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    python = str(bare / "bin" / "python")
    done = subprocess.run([python, str(ROOT / "traces.py"), "init", "--local", "--yes"], capture_output=True, text=True)
    assert done.returncode == 0
    assert "reaches traces" in done.stdout and "has no mlflow" in done.stderr
    status = subprocess.run([python, str(ROOT / "traces.py"), "status", "--json"], capture_output=True, text=True)
    assert any("has no mlflow" in p for p in json.loads(status.stdout)["problems"])


@pytest.mark.parametrize("message_size", [2_000, 200_000])
def test_the_committed_command_returns_before_the_hook_runs(repo, message_size):
    """Claude Code waits for HOOK_COMMAND: it must return at once, and hand its stdin on whole."""
    traces.main(["init", "--local", "--yes"])
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(repo), "CLAUDETRACING_PYTHON": "/bin/true"}  # no worker: the job stays
    local = repo / ".claude" / "traces.local.sh"
    local.write_text("sleep 2; " + local.read_text().splitlines()[-1] + "\n")
    payload = {"session_id": "sess-bg", "transcript_path": "", "cwd": str(repo), "hook_event_name": "Stop",
               "last_assistant_message": "x" * message_size}
    started = time.perf_counter()
    done = subprocess.run(["sh", "-c", committed_hook(repo)], input=json.dumps(payload).encode(), env=env,
                          capture_output=True, cwd=repo, timeout=30)
    took = time.perf_counter() - started
    assert done.returncode == 0 and done.stdout == b"" and done.stderr == b""
    if message_size < 60_000:
        # What fits in a pipe buffer is handed over at once. (A bigger input makes the writer
        # wait until the hook starts reading: no longer than the old foreground hook.)
        assert took < 1.5, f"the committed command waited for the hook ({took:.1f} s)"
    wait_for(lambda: traces.pending_jobs())
    [job] = [json.load(open(p)) for p in traces.pending_jobs()]
    assert job["session_id"] == "sess-bg" and job["answer"]["length"] == message_size


def test_the_committed_command_is_silent_without_traces(repo):
    env = {**os.environ, "PATH": "/usr/bin:/bin", "CLAUDE_PROJECT_DIR": "/nonexistent"}
    done = subprocess.run(["sh", "-c", traces.HOOK_COMMAND], input=b"{}", env=env, capture_output=True, timeout=10)
    assert done.returncode == 0 and done.stdout == b"" and done.stderr == b""
