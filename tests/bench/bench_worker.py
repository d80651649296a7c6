"""CPU per turn of capture over a 20-turn session: a worker that stays warm against one started
afresh for every turn (what 0.7.0 did, and what CLAUDETRACING_WORKER_IDLE=0 still does).

Each turn is appended to a transcript, then the real `traces hook` command runs with a Stop
input, as Claude Code would run it; the next turn starts once the trace is stored. All CPU is
counted: the hook processes and the workers they start, which this process adopts as a child
subreaper and reaps, so that their usage lands in RUSAGE_CHILDREN.
"""

import ctypes
import json
import os
import resource
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


if __name__ == "__main__":
    main()
