"""CPU per turn of capture over a 20-turn session: a worker that stays warm against one started
afresh for every turn (what 0.7.0 did, and what CLAUDETRACING_WORKER_IDLE=0 still does); and
(long_session) whether a warm worker's turn 1,000 of a session costs what its turn 10 did.

Each turn is appended to a transcript, then the real `traces hook` command runs with a Stop
input, as Claude Code would run it; the next turn starts once the trace is stored. All CPU is
counted: the hook processes and the workers they start, which this process adopts as a child
subreaper and reaps, so that their usage lands in RUSAGE_CHILDREN.
"""

import ctypes
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent.parent), str(BENCH.parent)]

from transcripts import Transcript  # noqa: E402

PR_SET_CHILD_SUBREAPER = 36


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if pid == 0:
            return False


def stored(uri, experiment):
    import sqlite3
    path = uri[len("sqlite:///"):]
    if not os.path.exists(path):
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute("select count(*) from trace_info t join experiments e on t.experiment_id = e.experiment_id"
                          " where e.name = ?", (experiment,)).fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def session_cpu(turns, idle):
    """CPU seconds (user + system) of every process capture started, for one session."""
    work = Path(tempfile.mkdtemp(prefix="traces-bench-worker-"))
    home = work / "traces-home"
    uri = f"sqlite:///{home}/mlflow.db"
    env = {**os.environ, "HOME": str(work), "TRACES_HOME": str(home), "CLAUDETRACING_WORKER_IDLE": str(idle),
           "MLFLOW_TRACKING_URI": uri, "MLFLOW_EXPERIMENT_NAME": "bench"}
    projects = work / ".claude" / "projects"
    t = Transcript(session=f"bench-{idle}")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    import subprocess
    for i in range(turns):
        t.prompt(f"task {i}")
        tool = t.tool("Write", {"file_path": f"/work/project/f{i}.py", "content": "x = 1\n" * 20})
        t.result(tool, "ok")
        t.text(f"done {i}")
        path = t.write(str(projects))
        hook_input = {"session_id": t.session, "transcript_path": path, "cwd": "/work/project",
                      "hook_event_name": "Stop", "last_assistant_message": f"done {i}"}
        subprocess.run([sys.executable, str(BENCH.parent.parent / "traces.py"), "hook"],
                       input=json.dumps(hook_input).encode(), env=env, check=True)
        deadline = time.time() + 120
        while stored(uri, "bench") < i + 1 and time.time() < deadline:
            reap()
            time.sleep(0.05)
    while not reap():           # the last worker exits once idle
        time.sleep(0.1)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert stored(uri, "bench") == turns
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(turns=20):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("  skipped: cannot become a child subreaper here")
        return None
    cold = session_cpu(turns, idle=0)
    warm = session_cpu(turns, idle=2)
    print(f"  {turns} turns: a fresh worker per turn {cold / turns:.2f} CPU s/turn, a warm worker "
          f"{warm / turns:.2f} CPU s/turn  → {cold / warm:.1f}x less CPU")
    return cold, warm



# --- a long session: is turn 1,000 as cheap as turn 10? -----------------------------------------
# One session of many turns, shaped like Claude Code 2.1.330's (about 100 KB a turn, most of it
# the prompt snapshot and the request shape, which the reader skips unparsed), traced turn by
# turn by one warm worker in this process: the CPU of each turn is its own. Interactive, so the
# ledger (cost-state) comes only when the session ends; the traces must then add up to it.

SNAPSHOT = "You are an agent working with the user toward their goals. " * 950       # ~56 KB
SHAPE = "x" * 38_000
USAGE = {"input_tokens": 111, "cache_creation_input_tokens": 45, "cache_read_input_tokens": 1011, "output_tokens": 21,
         "service_tier": "standard", "cache_creation": {"ephemeral_1h_input_tokens": 14, "ephemeral_5m_input_tokens": 31}}


class LongSession:
    """The transcript of one session, appended a turn at a time as Claude Code writes it."""

    def __init__(self, folder, cwd="/work/project"):
        import uuid
        self.uuid = uuid.uuid4
        self.id, self.cwd = str(uuid.uuid4()), cwd
        self.path = os.path.join(folder, self.id + ".jsonl")
        self.clock, self.last, self.turns, self.responses = 1_795_000_000.0, None, 0, 0

    def stamp(self):
        self.clock += 0.5
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.clock)) + ".000Z"

    def line(self, kind, **fields):
        uuid = str(self.uuid())
        line = {"parentUuid": self.last, "isSidechain": False, **fields, "type": kind, "uuid": uuid,
                "timestamp": self.stamp(), "userType": "external", "entrypoint": "cli", "cwd": self.cwd,
                "sessionId": self.id, "version": "2.1.330", "gitBranch": "main"}
        self.last = uuid
        return line

    def response(self, block, stop):
        self.responses += 1
        message_id = f"msg_{self.id[:8]}_{self.responses}"
        return self.line("assistant", requestId=f"req_{message_id}", message={
            "id": message_id, "type": "message", "role": "assistant", "model": "claude-opus-5-5", "content": [block],
            "stop_reason": stop, "usage": USAGE})

    def add_turn(self):
        """Append one turn (a prompt, a test run that fails, the answer); return its answer."""
        self.turns += 1
        n, tool = self.turns, f"toolu_{self.turns}"
        output = f"tests/test_{n}.py ....F\n" + "E   assert 1 == 2\n" * 100
        answer = f"Fixed task {n}: the assertion compared the wrong values."
        self.append([
            {"type": "queue-operation", "operation": "enqueue", "timestamp": self.stamp(), "sessionId": self.id},
            self.line("user", message={"role": "user", "content": f"Task {n}: run the tests and fix what fails."}),
            {"parentUuid": self.last, "isSidechain": False, "attachment": {"type": "prompt_snapshot",
             "systemPrompt": [SNAPSHOT]}, "type": "attachment", "uuid": str(self.uuid()), "timestamp": self.stamp()},
            {"type": "api-request-shape", "sessionId": self.id, "timestamp": self.stamp(), "shape": SHAPE},
            {"type": "api-request", "sessionId": self.id, "id": str(self.uuid()), "timestamp": self.stamp()},
            self.response({"type": "text", "text": f"Running the tests of task {n}."}, "tool_use"),
            self.response({"type": "tool_use", "id": tool, "name": "Bash",
                           "input": {"command": f"pytest -q tests/test_{n}.py"}}, "tool_use"),
            self.line("user", message={"role": "user", "content": [
                {"tool_use_id": tool, "type": "tool_result", "content": output}]},
                toolUseResult={"stdout": output, "stderr": "", "interrupted": False}),
            {"type": "api-request", "sessionId": self.id, "id": str(self.uuid()), "timestamp": self.stamp()},
            self.response({"type": "text", "text": answer}, "end_turn"),
            self.line("system", subtype="stop_hook_summary", hookCount=1, hookInfos=[], hookErrors=[]),
            {"type": "last-prompt", "lastPrompt": f"Task {n}", "sessionId": self.id}])
        return answer

    def end(self):
        """The session ends: Claude Code writes its ledger."""
        r = self.responses
        self.append([{"type": "cost-state", "sessionId": self.id, "modelUsage": {"claude-opus-5-5": {
            "inputTokens": 111 * r, "outputTokens": 21 * r, "cacheReadInputTokens": 1011 * r,
            "cacheCreationInputTokens": 45 * r, "cacheCreationEphemeral1hInputTokens": 14 * r}}}])

    def append(self, lines):
        with open(self.path, "a") as f:
            f.write("".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines))


def long_session(turns=1000, marks=(10, 300, 1000), window=20):
    """CPU per turn of a warm worker tracing one session turn by turn, and the part of it spent
    in the store's write (MLflow's SQLite store), at each mark: the lower quartile of the
    `window` turns around it (a shared machine only ever adds time). Asserts that every turn is
    traced and that the traces add up to the ledger."""
    import statistics

    import traces
    work = Path(tempfile.mkdtemp(prefix="traces-bench-session-"))
    saved = {k: os.environ.get(k) for k in ("HOME", "TRACES_HOME")}
    os.environ.update(HOME=str(work), TRACES_HOME=str(work / "traces-home"))
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{work}/traces-home/mlflow.db", "MLFLOW_EXPERIMENT_NAME": "bench"}
    folder = traces.project_folder("/work/project")
    os.makedirs(folder)
    session, uploaders, cpu, store_cpu = LongSession(folder), {}, [], []
    write = traces.Uploader._write

    def timed_write(self, batch):
        started = time.process_time()
        write(self, batch)
        store_cpu[-1] += time.process_time() - started
    traces.Uploader._write = timed_write

    def job(event, answer=None):
        job = {"hook_event_name": event, "session_id": session.id, "transcript_path": session.path,
               "cwd": session.cwd, "size": os.path.getsize(session.path), "env": env, "time": time.time()}
        if answer is not None:
            job["answer"] = traces.answer_digest(answer)
        traces.write_job(job)
    try:
        with traces.in_traces_home():
            for _ in range(turns):
                job("Stop", session.add_turn())
                store_cpu.append(0.0)
                started = time.process_time()
                assert traces.drain_spool(uploaders)
                cpu.append(time.process_time() - started)
            session.end()
            job("SessionEnd")
            assert traces.drain_spool(uploaders)
        found = stored(env["MLFLOW_TRACKING_URI"], "bench")
        traced = ledger_check(env, session.path)
        size = os.path.getsize(session.path)
    finally:
        traces.Uploader._write = write
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key)
            else:
                os.environ[key] = value
        shutil.rmtree(work, ignore_errors=True)
    assert found == turns, f"{found} traces for {turns} turns"
    ours = [total - store for total, store in zip(cpu, store_cpu)]

    def around(values, mark):
        start = min(max(mark - window // 2, 0), len(values) - window)
        return statistics.quantiles(values[start:start + window], n=4)[0]
    figures = {mark: [around(values, mark) for values in (cpu, store_cpu, ours)] for mark in marks}
    first = figures[marks[0]]
    print(f"  {turns} turns ({size / 1e6:.0f} MB transcript, local SQLite store), every turn traced, "
          f"tokens equal the ledger ({traced:,}):")
    for mark, (total, store, own) in figures.items():
        print(f"    turn {mark:>5,}: {total * 1000:5.1f} ms CPU → {total / first[0]:.2f}x turn {marks[0]}; "
              f"the store's write {store * 1000:4.1f} ms ({store / first[1]:.2f}x), ours {own * 1000:4.1f} ms "
              f"({own / first[2]:.2f}x)")
    return figures


def ledger_check(env, path):
    """The traces' total tokens, asserted equal to the session's ledger (its last cost-state)."""
    import mlflow
    from helpers import ledger_totals, traced_totals
    client = mlflow.MlflowClient(env["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name(env["MLFLOW_EXPERIMENT_NAME"])
    found, token = [], None
    while True:
        page = client.search_traces(locations=[experiment.experiment_id], max_results=500, page_token=token,
                                    include_spans=False)
        found += page
        token = page.token
        if not token:
            break
    ours, theirs = traced_totals(found), ledger_totals([path])
    assert ours == theirs, f"traced {ours}, ledger {theirs}"
    return sum(ours.values())


if __name__ == "__main__":
    main()
