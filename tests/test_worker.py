"""The hook, the spool and the worker: never block Claude, never lose or duplicate a turn."""

import json
import os
import stat
import subprocess
import sys
import time

import pytest
from helpers import ROOT, ledger_totals, traced_totals, traces_cli
from transcripts import Transcript

import traces


def store_uri():
    return "sqlite:///" + os.path.join(os.environ["TRACES_HOME"], "mlflow.db")


def env_for_store(experiment="acme/widgets"):
    return {"MLFLOW_TRACKING_URI": store_uri(), "MLFLOW_EXPERIMENT_NAME": experiment}


def configured_project(tmp_path, experiment="acme/widgets"):
    """A project wired the way init does it, in our own files; the environment a hook of it
    runs with (Claude Code sets CLAUDE_PROJECT_DIR, and exports nothing of ours)."""
    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    (project / ".claude" / "traces.json").write_text(json.dumps({"experiment": experiment}))
    (project / ".claude" / "traces.local.json").write_text(json.dumps({"tracking_uri": store_uri()}))
    return {**os.environ, "CLAUDE_PROJECT_DIR": str(project)}


def stored_spans(trace_id):
    import mlflow
    return mlflow.MlflowClient(store_uri()).get_trace(trace_id).data.spans


def stored_traces(experiment="acme/widgets"):
    import mlflow
    client = mlflow.MlflowClient(store_uri())
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    return client.search_traces(locations=[found.experiment_id], max_results=500)


def session_file(turns=2, session="sess-w-1"):
    t = Transcript(session=session)
    for i in range(turns):
        t.prompt(f"task {i}")
        tool = t.tool("Write", {"file_path": f"/work/project/f{i}.py", "content": "x"})
        t.result(tool, "ok")
        t.text(f"done {i}")
    return t


def stop_input(path, session="sess-w-1", message="done 1", event="Stop"):
    return {"session_id": session, "transcript_path": str(path), "cwd": "/work/project", "hook_event_name": event,
            "stop_hook_active": False, "last_assistant_message": message, "permission_mode": "default"}


def projects():
    return os.path.join(os.environ["HOME"], ".claude", "projects")


# --- the hook -------------------------------------------------------------------------------

@pytest.mark.parametrize("stdin", [b"", b"garbage", b"[]", b"null", b'{"hook_event_name": "Stop"}',
                                   b'{"hookEventName": "postToolUse", "sessionId": "copilot"}',
                                   b'{"session_id": "../../etc", "hook_event_name": "Stop"}', b"\xff\xfe"])
def test_hook_ignores_what_is_not_claude_code(stdin):
    done = traces_cli("hook", input=stdin, env=dict(os.environ))
    assert done.returncode == 0 and done.stdout == b"" and done.stderr == b""
    assert traces.pending_jobs() == []


def test_hook_exits_zero_even_with_arguments_and_unwritable_home(tmp_path):
    home = tmp_path / "locked"
    home.mkdir()
    home.chmod(0o500)
    env = {**os.environ, "TRACES_HOME": str(home / "inner")}
    if os.geteuid() == 0:
        env["TRACES_HOME"] = "/proc/traces-cannot-live-here"
    done = traces_cli("hook", "--bogus", input=json.dumps(stop_input("/x.jsonl")).encode(), env=env)
    assert done.returncode == 0 and done.stdout == b""


def test_hook_writes_a_private_durable_job_without_importing_mlflow(tmp_path):
    code = ("import sys, io, traces; sys.stdin = io.TextIOWrapper(io.BytesIO(sys.argv[1].encode()));"
            "traces.start_worker = lambda: None; rc = traces.main(['hook']);"
            "print(rc, 'mlflow' in sys.modules)")
    env = {**configured_project(tmp_path), "PYTHONPATH": str(ROOT), "MLFLOW_EXPERIMENT_NAME": "from-the-shell",
           "MLFLOW_TRACKING_TOKEN": "tok", "UNRELATED_SECRET": "x"}
    done = subprocess.run([sys.executable, "-c", code, json.dumps(stop_input("/p/s.jsonl"))], env=env,
                          capture_output=True, text=True)
    assert done.stdout.split() == ["0", "False"]
    [job_path] = traces.pending_jobs()
    assert stat.S_IMODE(os.stat(job_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(job_path)).st_mode) == 0o700
    job = json.load(open(job_path))
    # No transcript content: the answer is kept as a digest the worker can compare.
    assert job["session_id"] == "sess-w-1" and "done 1" not in open(job_path).read()
    assert traces.answers_match("done 1", job["answer"]) and not traces.answers_match("done 2", job["answer"])
    # Our settings come from the project's files, never from the shell's variables.
    assert job["env"]["MLFLOW_EXPERIMENT_NAME"] == "acme/widgets" and job["env"]["MLFLOW_TRACKING_URI"] == store_uri()
    assert "UNRELATED_SECRET" not in job["env"] and "tok" not in open(job_path).read()


def test_hook_starts_a_detached_worker_that_uploads(tmp_path):
    path = session_file().write(projects())
    env = configured_project(tmp_path)
    done = traces_cli("hook", input=json.dumps(stop_input(path)).encode(), env=env)
    assert done.returncode == 0 and done.stdout == b""
    deadline = time.time() + 60
    while time.time() < deadline and (traces.pending_jobs() or len(stored_traces()) < 2):
        time.sleep(0.5)
    assert len(stored_traces()) == 2
    assert not os.path.exists(os.path.join(ROOT, "mlruns")) and not os.path.exists("mlruns")
    log = open(os.path.join(os.environ["TRACES_HOME"], "traces.log")).read()
    assert "uploaded 2 turn(s)" in log and "task 0" not in log and "done 1" not in log


# --- the worker -----------------------------------------------------------------------------

def test_upload_is_idempotent_even_without_the_checkpoint(tmp_path):
    path = session_file(turns=3).write(projects())
    uploader = traces.Uploader(env_for_store())
    assert traces.trace_session("sess-w-1", path, uploader, final=True) == 3
    assert traces.trace_session("sess-w-1", path, uploader, final=True) == 0
    os.remove(traces.state_path("sess-w-1"))
    assert traces.trace_session("sess-w-1", path, uploader, final=True) == 0
    found = stored_traces()
    assert len(found) == 3
    assert sorted(t.info.request_preview for t in found) == ["task 0", "task 1", "task 2"]


def test_a_partial_trace_left_by_a_killed_worker_is_removed(tmp_path):
    path = session_file(turns=1).write(projects())
    uploader = traces.Uploader(env_for_store())
    import mlflow
    root = mlflow.start_span_no_context("claude_code_conversation", experiment_id=uploader.experiment())
    root.end()
    partial = root.trace_id
    traces.save_state("sess-w-1", {"transcript": path, "offset": 0, "done": [],
                                   "inflight": {"turn": "sess-w-1:x", "trace": partial}})
    assert traces.trace_session("sess-w-1", path, uploader, final=True) == 1
    ids = [t.info.trace_id for t in stored_traces()]
    assert partial not in ids and len(ids) == 1


def test_the_last_turn_waits_for_claude_to_stop(tmp_path):
    t = Transcript(session="sess-w-2")
    t.prompt("first")
    t.text("one")
    t.prompt("second")
    tool = t.tool("Bash", {"command": "make"})          # Claude is still working on this
    path = t.write(projects())
    uploader = traces.Uploader(env_for_store())
    assert traces.trace_session("sess-w-2", path, uploader) == 1       # the next prompt ended "first"
    t.result(tool, "built")
    t.text("two")
    t.write(projects())
    assert traces.trace_session("sess-w-2", path, uploader) == 0       # looks done, but no Stop said so
    stop = {**stop_input(path, "sess-w-2", "two"), "size": os.path.getsize(path), "time": time.time()}
    assert traces.trace_session("sess-w-2", path, uploader, [stop]) == 1
    assert sorted(x.info.response_preview for x in stored_traces()) == ["one", "two"]


def test_stop_waits_for_a_lagging_transcript(tmp_path, monkeypatch):
    """The Stop hook can fire before the last lines are written; the worker waits a little."""
    monkeypatch.setattr(traces, "STOP_CATCH_UP_SECONDS", 5)
    t = Transcript(session="sess-w-3")
    t.prompt("first")
    path = t.write(projects())
    import threading

    def late_writer():
        time.sleep(1)
        t.text("late answer")
        t.write(projects())
    threading.Thread(target=late_writer).start()
    uploader = traces.Uploader(env_for_store())
    job = {**stop_input(path, "sess-w-3", "late answer"), "time": time.time()}
    assert traces.trace_session("sess-w-3", path, uploader, [job]) == 1


def test_sync_refuses_transcripts_outside_claude_projects(tmp_path, capsys):
    secret = tmp_path / "shadow.jsonl"
    session_file().write(str(tmp_path))
    os.replace(next((tmp_path / "-work-project").glob("*.jsonl")), secret)
    traces.write_job({**stop_input(secret), "env": env_for_store(), "time": time.time()})
    assert traces.main(["sync", "--wait", "5"]) == 0
    assert stored_traces() == []
    assert "refused a transcript outside" in open(os.path.join(os.environ["TRACES_HOME"], "traces.log")).read()


def test_backend_down_keeps_the_job_and_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    path = session_file().write(projects())
    env = {"MLFLOW_TRACKING_URI": "http://127.0.0.1:9", "MLFLOW_EXPERIMENT_NAME": "acme/widgets"}
    traces.write_job({**stop_input(path), "env": env, "time": time.time()})
    assert traces.main(["sync", "--wait", "2"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: 1 job(s) are still waiting") and "127.0.0.1:9" in err
    assert len(traces.pending_jobs()) == 1
    assert "ERROR" in traces.repo_status(os.getcwd(), check_hook=False)["last_error"]


def test_session_end_uploads_an_interrupted_last_turn(tmp_path):
    t = Transcript(session="sess-w-4")
    t.prompt("first")
    tool = t.tool("Bash", {"command": "sleep 999"})
    path = t.write(projects())
    traces.write_job({**stop_input(path, "sess-w-4", event="SessionEnd"), "env": env_for_store(), "time": time.time()})
    assert traces.main(["sync", "--wait", "30"]) == 0
    [trace] = stored_traces()
    assert trace.info.request_preview == "first" and tool
    assert traces.pending_jobs() == []


def test_import_takes_this_repository_and_its_subfolders_only(repo, capsys):
    base = projects()
    for session, cwd in (("s-root", str(repo)), ("s-sub", str(repo / "pkg")), ("s-sibling", str(repo) + "-old")):
        t = Transcript(session=session, cwd=cwd)
        t.prompt(f"work in {session}")
        t.text("ok")
        t.write(base)
    assert traces.main(["init", "--local", "--yes"]) == 0
    assert traces.main(["import"]) == 0
    assert "Imported 2 new turn(s) from 2 session(s)" in capsys.readouterr().out
    assert sorted(t.info.request_preview for t in stored_traces()) == ["work in s-root", "work in s-sub"]
    assert traces.main(["import"]) == 0
    assert "Imported 0 new turn(s)" in capsys.readouterr().out
    assert traces.main(["import", "--all"]) == 0
    assert len(stored_traces()) == 3


# --- when a turn is finished: by where it ends in the transcript ------------------------------

def job(path, event, session, message="", **extra):
    """A spool job as the hook writes it: with how far the transcript had been written."""
    return {**stop_input(path, session, message, event), "size": os.path.getsize(path), "time": time.time(), **extra}


def test_a_session_end_never_finishes_a_turn_of_a_later_process(tmp_path):
    """The first process's SessionEnd handled together with the resumed process's SubagentStop
    (a busy worker): the resumed turn is still running and must wait for its own Stop."""
    t = Transcript(session="sess-o-1")
    t.prompt("first")
    t.text("one")
    path = t.write(projects())
    ended = job(path, "SessionEnd", "sess-o-1")
    t.prompt("second, resumed")                  # a new `claude -p --resume` process
    tool = t.tool("Bash", {"command": "sleep 5"})
    t.write(projects())
    subagent = job(path, "SubagentStop", "sess-o-1")
    uploader = traces.Uploader(env_for_store())
    assert traces.trace_session("sess-o-1", path, uploader, [job(path, "Stop", "sess-o-1", "one"), ended, subagent]) == 1
    t.result(tool, "")
    t.text("two, complete")
    t.write(projects())
    assert traces.trace_session("sess-o-1", path, uploader, [job(path, "Stop", "sess-o-1", "two, complete")]) == 1
    assert sorted(x.info.response_preview for x in stored_traces()) == ["one", "two, complete"]


def test_a_turn_that_goes_on_after_stop_is_replaced_by_the_complete_one(tmp_path):
    """A Stop hook of the user's exits 2 and Claude keeps working: the trace uploaded at the
    first Stop is replaced, under the same turn id, by the whole turn at the second."""
    t = Transcript(session="sess-o-2")
    t.prompt("fix it")
    t.text("fixed")
    path = t.write(projects())
    uploader = traces.Uploader(env_for_store())
    assert traces.trace_session("sess-o-2", path, uploader, [job(path, "Stop", "sess-o-2", "fixed")]) == 1
    [before] = stored_traces()
    t.raw({"type": "system", "subtype": "stop_hook_summary", "hookInfos": []})
    t.write(projects())
    assert traces.trace_session("sess-o-2", path, uploader, []) == 0, "bookkeeping lines change nothing"
    t.prompt("Stop hook feedback: run the tests too", isMeta=True)
    t.result(t.tool("Bash", {"command": "make test"}), "ok")
    assert traces.trace_session("sess-o-2", path, uploader, []) == 0, "still going: no Stop yet"
    t.text("fixed, and the tests pass")
    t.write(projects())
    assert traces.trace_session("sess-o-2", path, uploader, [job(path, "Stop", "sess-o-2", "fixed, and the tests pass")]) == 1
    [after] = stored_traces()
    assert after.info.trace_id != before.info.trace_id
    assert after.info.response_preview == "fixed, and the tests pass"
    assert after.info.tags["claudetracing.turn_id"] == before.info.tags["claudetracing.turn_id"]
    assert int(after.info.tags["tokens.input"]) == 3 * int(before.info.tags["tokens.input"])
    t.prompt("next")
    t.text("three")
    t.write(projects())
    assert traces.trace_session("sess-o-2", path, uploader, [job(path, "Stop", "sess-o-2", "three")]) == 1
    assert len(stored_traces()) == 2


def test_a_replacement_interrupted_by_a_killed_worker_is_settled(tmp_path):
    t = Transcript(session="sess-o-3")
    t.prompt("fix it")
    t.text("fixed")
    path = t.write(projects())
    uploader = traces.Uploader(env_for_store())
    traces.trace_session("sess-o-3", path, uploader, [job(path, "Stop", "sess-o-3", "fixed")])
    [old] = stored_traces()
    state = json.load(open(traces.state_path("sess-o-3")))
    # The worker died after storing the new trace and before removing the old one.
    import mlflow
    root = mlflow.start_span_no_context("claude_code_conversation", experiment_id=uploader.experiment())
    root.end()
    uploader.client.set_trace_tag(root.trace_id, "claudetracing.turn_id", old.info.tags["claudetracing.turn_id"])
    traces.save_state("sess-o-3", {**state, "inflight": {"turn": old.info.tags["claudetracing.turn_id"],
                                                         "trace": root.trace_id, "replaces": old.info.trace_id}})
    traces.trace_session("sess-o-3", path, uploader, [])
    assert [x.info.trace_id for x in stored_traces()] == [root.trace_id]


def test_an_interrupted_turn_is_traced_with_its_status(tmp_path):
    t = Transcript(session="sess-o-4")
    t.prompt("long job")
    t.result(t.tool("Bash", {"command": "sleep 100"}), "[Request interrupted by user for tool use]", is_error=True)
    t.prompt("[Request interrupted by user for tool use]")
    path = t.write(projects())
    uploader = traces.Uploader(env_for_store())
    assert traces.trace_session("sess-o-4", path, uploader, []) == 0, "no Stop fires on Escape: wait for what follows"
    t.prompt("do this instead")
    t.text("done")
    t.write(projects())
    assert traces.trace_session("sess-o-4", path, uploader, [job(path, "Stop", "sess-o-4", "done")]) == 2
    found = {x.info.request_preview: x.info.tags["claudetracing.status"] for x in stored_traces()}
    assert found == {"long job": "interrupted", "do this instead": "ok"}


def test_the_worker_stays_warm_for_the_next_turn(tmp_path):
    """One worker, started by the first Stop, uploads the next turns too: no new process,
    no second import of mlflow."""
    t = session_file(turns=1, session="sess-o-5")
    path = t.write(projects())
    env = {**configured_project(tmp_path), "CLAUDETRACING_WORKER_IDLE": "20"}
    traces_cli("hook", input=json.dumps(stop_input(path, "sess-o-5", "done 0")).encode(), env=env)
    for i in (1, 2):
        deadline = time.time() + 60
        while time.time() < deadline and len(stored_traces()) < i:
            time.sleep(0.2)
        t.prompt(f"task {i}")
        t.text(f"done {i}")
        t.write(projects())
        traces_cli("hook", input=json.dumps(stop_input(path, "sess-o-5", f"done {i}")).encode(), env=env)
    deadline = time.time() + 60
    while time.time() < deadline and len(stored_traces()) < 3:
        time.sleep(0.2)
    assert len(stored_traces()) == 3
    log = open(os.path.join(os.environ["TRACES_HOME"], "traces.log")).read()
    workers = {line.split("[")[1].split("]")[0] for line in log.splitlines() if "uploaded" in line}
    assert len(workers) == 1, log
    assert traces.worker_lock() is None, "the worker is still there, waiting for the next turn"


def test_a_cleared_session_names_the_one_it_came_from(tmp_path):
    """A, /clear, B, /clear, C in one process: Claude Code's own `session_id` field says A on
    every line of B and C; C came from B, which the SessionEnd of the second clear tells."""
    import itertools
    start = traces.parse_time("2026-11-20T09:00:00Z")
    for minute, (name, parent, reason) in enumerate((("sess-A", None, "clear"), ("sess-B", "sess-A", "clear"),
                                                     ("sess-C", "sess-B", "prompt_input_exit"))):
        t = Transcript(session=name)
        t.clock = itertools.count(minute * 600)          # B starts when A is cleared, C when B is
        if parent:
            t.prompt("<local-command-caveat>Caveat: ...</local-command-caveat>", isMeta=True)
            t.prompt("<command-name>/clear</command-name>\n<command-message>clear</command-message>")
        t.prompt(f"work in {name}")
        t.raw({**t.lines[-1], "type": "attachment", "session_id": "sess-A", "uuid": f"a-{name}"})
        t.text("ok")
        path = t.write(projects())
        traces.write_job({**job(path, "SessionEnd", name), "reason": reason, "env": env_for_store(),
                          "time": start + (minute + 1) * 600})
    assert traces.main(["sync", "--wait", "60"]) == 0
    found = {t.info.trace_metadata["mlflow.trace.session"]: t.info.trace_metadata.get("claudetracing.parent_session")
             for t in stored_traces()}
    assert found == {"sess-A": None, "sess-B": "sess-A", "sess-C": "sess-B"}


# --- replays of recorded sessions: the worker at the moment each hook fired -----------------

def replay(name, monkeypatch):
    """Run the worker on each hook call of a recording, the session's transcript cut where it
    was when the hook ran (Claude Code often runs Stop before it writes the turn's last lines);
    then on the whole files, as the next hook would. Returns the stored traces, oldest first."""
    from helpers import RECORDED
    monkeypatch.setattr(traces, "STOP_CATCH_UP_SECONDS", 0.5)     # a replayed file does not grow
    folder = RECORDED / name
    sources = {p.stem: p for p in folder.glob("*.jsonl") if p.name != "hooks.jsonl"}
    target = os.path.join(projects(), "-replay")
    os.makedirs(target, exist_ok=True)
    uploader = traces.Uploader(env_for_store())
    calls = [json.loads(line) for line in open(folder / "hooks.jsonl")]
    for call in calls:
        session = call["stdin"]["session_id"]
        path = os.path.join(target, session + ".jsonl")
        lines = sources[session].read_bytes().splitlines(keepends=True)[:call["transcript_lines"]]
        with open(path, "wb") as f:
            f.write(b"".join(lines))
        hook_job = {**call["stdin"], "transcript_path": path, "size": os.path.getsize(path), "time": time.time()}
        traces.remember_clears([hook_job])
        traces.trace_session(session, path, uploader, [hook_job])
    for session, source in sources.items():
        path = os.path.join(target, session + ".jsonl")
        with open(path, "wb") as f:
            f.write(source.read_bytes())
        traces.trace_session(session, path, uploader, [])
    return sorted(stored_traces(), key=lambda t: t.info.request_time), sources


def test_replay_of_a_stop_hook_that_exits_2(monkeypatch):
    found, sources = replay("stophook", monkeypatch)
    assert [t.info.response_preview for t in found] == ["Continued after the stop hook asked for more."]
    assert traced_totals(found) == ledger_totals(sources.values())


def test_replay_of_an_interactive_session_with_escape_and_clear(monkeypatch):
    found, sources = replay("interactive", monkeypatch)
    assert [(t.info.request_preview.split(": ")[1], t.info.response_preview, t.info.tags["claudetracing.status"])
            for t in found] == [("first", "plain answer", "ok"),
                                ("run the long command", "Starting a long command.", "interrupted"),
                                ("after the interrupt", "plain answer", "ok"),
                                ("after clear", "plain answer", "ok")]
    old, new = found[0].info.trace_metadata["mlflow.trace.session"], found[3].info.trace_metadata["mlflow.trace.session"]
    assert old != new and found[3].info.trace_metadata["claudetracing.parent_session"] == old
    assert traced_totals(found) == ledger_totals([sources[old], sources[new]])


def test_a_warm_worker_sends_each_repository_to_its_own_backend(tmp_path):
    """MLflow's tracking URI is process-wide: a worker serving two repositories (two stores)
    turn by turn must point it at the right one each time."""
    stores = {name: {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/{name}.db", "MLFLOW_EXPERIMENT_NAME": name}
              for name in ("alpha", "beta")}
    uploaders = {}
    for n, name in enumerate(["alpha", "beta", "alpha", "beta"]):
        t = Transcript(session=f"sess-{name}-{n}")
        t.prompt(f"{name} {n}")
        t.text("ok")
        path = t.write(projects())
        traces.write_job({**job(path, "SessionEnd", t.session), "env": stores[name]})
        assert traces.drain_spool(uploaders)
    import mlflow
    for name, env in stores.items():
        client = mlflow.MlflowClient(env["MLFLOW_TRACKING_URI"])
        experiment = client.get_experiment_by_name(name)
        found = client.search_traces(locations=[experiment.experiment_id])
        assert sorted(t.info.request_preview for t in found) == sorted(f"{name} {n}" for n in ((0, 2) if name == "alpha" else (1, 3)))


def test_a_turn_late_in_a_long_session_costs_what_an_early_one_did(monkeypatch):
    """Turn by turn through a warm worker, an interactive session (no ledger entry until it
    ends, a /compact halfway): the checkpoint written every turn does not grow with the turns
    before, the backend is not searched for every turn, and the traces add up to the ledger."""
    import mlflow
    searches = []
    search = mlflow.MlflowClient.search_traces
    monkeypatch.setattr(mlflow.MlflowClient, "search_traces", lambda *a, **k: searches.append(1) or search(*a, **k))
    t, uploaders, sizes = Transcript(session="sess-long"), {}, []
    for i in range(30):
        t.prompt(f"task {i}")
        t.result(t.tool("Bash", {"command": f"make test{i}"}), "ok")
        t.text(f"done {i}")
        path = t.write(projects())
        traces.write_job({**job(path, "Stop", t.session, f"done {i}"), "env": env_for_store()})
        assert traces.drain_spool(uploaders)
        sizes.append(os.path.getsize(traces.state_path(t.session)))
        if i == 14:
            t.compact()
    responses = 60
    t.cost_state({"claude-sonnet-4-5": {"inputTokens": 10 * responses + 700, "outputTokens": 5 * responses + 300,
                                        "cacheReadInputTokens": 100 * responses,
                                        "cacheCreationInputTokens": 20 * responses}}, 0.5)
    path = t.write(projects())
    traces.write_job({**job(path, "SessionEnd", t.session), "env": env_for_store()})
    assert traces.drain_spool(uploaders)
    assert sizes[-1] - sizes[4] < 100, f"the checkpoint grew with the turns: {sizes}"
    assert len(searches) <= 1, f"the backend was searched {len(searches)} times for one session"
    found = sorted(stored_traces(), key=lambda x: x.info.request_time)
    assert len(found) == 30 and traced_totals(found) == ledger_totals([path])
    spans = stored_spans(found[-1].info.trace_id)
    assert [s.name for s in spans if s.span_type == "LLM"][-1] == "compaction"


def test_a_transcript_shorter_than_its_hook_saw_keeps_the_jobs(tmp_path, capsys):
    """Claude Code only appends: a file shorter than when the hook ran is being replaced, and
    reading it now could take a turn for unfinished. The jobs wait for the next try."""
    path = session_file(turns=1, session="sess-o-6").write(projects())
    traces.write_job({**job(path, "Stop", "sess-o-6", "done 0"), "size": os.path.getsize(path) + 100,
                      "env": env_for_store()})
    assert traces.main(["sync", "--wait", "1"]) == 1
    assert len(traces.pending_jobs()) == 1 and stored_traces() == []
    assert "shorter than when its hook ran" in open(os.path.join(os.environ["TRACES_HOME"], "traces.log")).read()


def test_replay_of_a_compaction_counts_what_only_the_ledger_knows(monkeypatch):
    """/compact between two prompts: its request leaves no assistant line, only cost-state
    knows it. The traces still add up to the ledger, with a `compaction` span."""
    found, sources = replay("compact", monkeypatch)
    [path] = sources.values()
    assert [t.info.response_preview for t in found] == ["plain answer", "plain answer"]
    assert traced_totals(found) == ledger_totals([path])
    cost = [json.loads(line) for line in open(path) if '"type":"cost-state"' in line][-1]["totalCostUSD"]
    assert sum(float(t.info.tags["cost.usd"]) for t in found) == pytest.approx(cost, rel=0.01)
    spans = [s for t in found for s in stored_spans(t.info.trace_id)]
    [compaction] = [s for s in spans if s.name == "compaction"]
    assert compaction.span_type == "LLM" and "manual compaction of 1,338 tokens" in json.dumps(compaction.outputs)
    assert compaction.attributes["claudetracing.compactions"][0]["trigger"] == "manual"


def test_replay_of_a_fork_traces_copied_turns_once(monkeypatch):
    """`--fork-session` starts a new file with a copy of the old session: the copy is not
    traced again, the fork's own turn names where it came from, and the tokens add up."""
    found, sources = replay("fork", monkeypatch)
    sessions = [t.info.trace_metadata["mlflow.trace.session"] for t in found]
    original, fork = sessions[0], sessions[-1]
    assert sessions == [original, original, fork]
    assert found[-1].info.trace_metadata["claudetracing.forked_from"] == original
    assert "claudetracing.forked_from" not in found[0].info.trace_metadata
    assert traced_totals(found) == ledger_totals([sources[fork]]), "the fork's ledger starts from the original's totals"


def test_replay_of_a_custom_slash_command(monkeypatch):
    found, sources = replay("slash", monkeypatch)
    [trace] = found
    assert trace.info.request_preview == "/ctplain some args" and trace.info.tags["claudetracing.command"] == "/ctplain"
    assert traced_totals(found) == ledger_totals(sources.values())


def test_import_says_what_it_held_back_and_search_of_nothing_is_empty(repo, capsys):
    t = Transcript(session="s-live", cwd=str(repo))
    t.prompt("still going")
    t.tool("Bash", {"command": "make"})
    t.write(projects())
    assert traces.main(["init", "--local", "--yes"]) == 0
    assert traces.main(["import"]) == 0
    out = capsys.readouterr().out
    assert "Imported 0 new turn(s)" in out and "Held back 1 turn(s) still in progress" in out
    assert traces.main(["search"]) == 0
    assert capsys.readouterr().out.startswith("No traces found"), "nothing traced yet: no traces, no error"


def test_a_stop_before_its_transcript_exists_waits_for_it(tmp_path):
    """Claude Code can run a short session's first Stop before it has created the file."""
    t = session_file(turns=1, session="sess-o-7")
    path = os.path.join(projects(), "-work-project", "sess-o-7.jsonl")
    traces.write_job({**stop_input(path, "sess-o-7", "done 0"), "size": None, "time": time.time(),
                      "env": env_for_store()})
    import threading
    threading.Timer(1.5, lambda: t.write(projects())).start()
    assert traces.main(["sync", "--wait", "30"]) == 0
    assert [x.info.response_preview for x in stored_traces()] == ["done 0"]


def test_a_compaction_agent_file_of_2_1_39_counts_in_the_turn_it_happened(tmp_path):
    """2.1.39 wrote compactions to `<session>/subagents/agent-acompact-*.jsonl`: no call
    launched them, and their tokens belong to the turn during which they ran."""
    import itertools
    t = Transcript(session="sess-o-8")
    for i in range(2):
        t.prompt(f"task {i}")
        t.text(f"done {i}")
    t.clock = itertools.count(100)
    t.prompt("task 2")
    t.text("done 2")
    path = t.write(projects())
    compaction = Transcript(session="sess-o-8")
    compaction.clock = itertools.count(2)                 # between task 1's prompt and task 2's
    compaction.prompt("Summarise the conversation so far.", isSidechain=True, agentId="acompact-1a2b3c")
    compaction.text("<summary>…</summary>", usage={"input_tokens": 7, "output_tokens": 900,
                                                  "cache_read_input_tokens": 50_000, "cache_creation_input_tokens": 0})
    folder = os.path.join(path[:-len(".jsonl")], "subagents")
    os.makedirs(folder)
    with open(os.path.join(folder, "agent-acompact-1a2b3c.jsonl"), "w") as f:
        f.write(compaction.text_lines())
    uploader = traces.Uploader(env_for_store())
    assert traces.trace_session("sess-o-8", path, uploader, final=True) == 3
    by_prompt = {x.info.request_preview: x for x in stored_traces()}
    assert [int(by_prompt[f"task {i}"].info.tags["tokens.cache_read"]) for i in range(3)] == [100, 50_100, 100]
    names = [s.name for s in stored_spans(by_prompt["task 1"].info.trace_id)]
    assert names.count("compaction") == 1


def test_history_copied_into_a_new_file_by_an_old_resume_is_traced_once(repo, capsys):
    """Before 2.1, --resume (like --fork-session now) started a new file with a copy of the
    conversation: same uuids and message ids, a new session id, nothing naming the old one.
    A backfill traces the copy once, under the session it came from."""
    original = Transcript(session="s-first", cwd=str(repo))
    for i in range(2):
        original.prompt(f"task {i}")
        original.text(f"done {i}")
    first = original.write(projects())
    copy = Transcript(session="s-resumed", cwd=str(repo))
    copy.lines = [{**line, "sessionId": "s-resumed"} for line in original.lines]
    copy.prompt("task 2")
    copy.text("done 2")
    copied = copy.write(projects())
    os.utime(first, (time.time() - 3600, time.time() - 3600))
    os.utime(copied, (time.time() - 1800, time.time() - 1800))
    assert traces.main(["init", "--local", "--yes"]) == 0
    assert traces.main(["import"]) == 0
    assert "Imported 3 new turn(s)" in capsys.readouterr().out
    found = {t.info.request_preview: t.info.trace_metadata for t in stored_traces()}
    assert sorted(found) == ["task 0", "task 1", "task 2"]
    assert found["task 2"]["mlflow.trace.session"] == "s-resumed"
    assert found["task 2"]["claudetracing.forked_from"] == "s-first"
    assert found["task 0"]["mlflow.trace.session"] == "s-first"


def test_credentials_are_never_copied_into_a_job_and_are_read_when_uploading(repo, monkeypatch):
    secrets = {"MLFLOW_TRACKING_TOKEN": "tok-abc123", "MLFLOW_TRACKING_PASSWORD": "pw-abc123",
               "DATABRICKS_CLIENT_SECRET": "dose-abc123", "DATABRICKS_TOKEN": "dapi-abc123"}
    monkeypatch.setattr(traces, "start_worker", lambda: None)
    # A repository set up before 0.9: everything in the settings' env block, secrets included.
    (repo / ".claude").mkdir()
    (repo / ".claude" / "settings.local.json").write_text(json.dumps({"env": {
        **secrets, "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}}))
    environ = {**secrets, "CLAUDE_PROJECT_DIR": str(repo)}
    traces.hook(json.dumps(stop_input("/nowhere.jsonl")).encode(), environ)
    [path] = traces.pending_jobs()
    text = open(path).read()
    assert not [value for value in secrets.values() if value in text]
    assert json.loads(text)["env"]["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:9"
    # The worker finds them where they are kept: the store init writes (by server), what an
    # older version left in the settings, then its own environment.
    (repo / ".claude" / "settings.local.json").write_text(json.dumps({"env": {"MLFLOW_TRACKING_PASSWORD": "pw-local"}}))
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-from-shell")
    assert traces.job_credentials(str(repo), "http://127.0.0.1:9") == {
        "MLFLOW_TRACKING_PASSWORD": "pw-local", "DATABRICKS_TOKEN": "dapi-from-shell"}
    traces.store_credentials("http://127.0.0.1:9", {"MLFLOW_TRACKING_TOKEN": "tok-stored"})
    assert stat.S_IMODE(os.stat(traces.credentials_path()).st_mode) == 0o600
    assert traces.job_credentials(str(repo), "http://127.0.0.1:9")["MLFLOW_TRACKING_TOKEN"] == "tok-stored"
    assert "MLFLOW_TRACKING_TOKEN" not in traces.job_credentials(str(repo), "http://other:5000")
