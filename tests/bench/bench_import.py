"""`traces import` of N sessions against MLflow's own Claude Code processor on the same
sessions, in the same run (goal: ≥ 25x faster per trace), into the local store and into an
`mlflow server` (on SQLite); and the peak memory of import for N and 10 N sessions (goal: flat).

The sessions are the recorded two-turn session (tests/fixtures/cc-2.1.330/resume) with fresh
ids. Both run as commands from outside, start-up included: `traces import FOLDER`, and MLflow's
`process_transcript` the way its Stop hook runs it, one process per session (it traces the
session's last turn, so one trace per session). A second figure runs MLflow's processor over
all sessions in one process, which no hook does, but which is its best case for a backfill.

    python tests/bench/bench_import.py [N]
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

BENCH = Path(__file__).resolve().parent
TESTS = BENCH.parent
ROOT = TESTS.parent
sys.path[:0] = [str(ROOT), str(TESTS)]

SOURCE = next(p for p in (TESTS / "fixtures" / "cc-2.1.330" / "resume").glob("*.jsonl") if p.name != "hooks.jsonl")

LEGACY_ONE = """
import sys
from mlflow.claude_code.tracing import process_transcript, setup_mlflow
setup_mlflow()
for path in sys.argv[1:]:
    if process_transcript(path, session_id=path.rsplit("/", 1)[-1][:-6]) is None:
        raise SystemExit("not traced: " + path)
"""


def make_sessions(folder, count):
    lines = SOURCE.read_text().splitlines()
    folder.mkdir(parents=True)
    for _ in range(count):
        session = str(uuid.uuid4())
        text = "\n".join(lines).replace(SOURCE.stem, session).replace('"uuid":"', f'"uuid":"{session[:8]}-')
        (folder / f"{session}.jsonl").write_text(text + "\n")
        shutil.copytree(SOURCE.parent / SOURCE.stem, folder / session)
    return sorted(folder.glob("*.jsonl"))



def run_import(work, folder, uri=None):
    """Seconds and traces of `traces import folder` in a fresh TRACES_HOME, and its peak RSS (MB)."""
    repo = work / f"repo-{uuid.uuid4().hex[:6]}"
    (repo / ".claude").mkdir(parents=True)
    config = {"experiment": "bench-import"} | ({"tracking_uri": uri} if uri else {})
    (repo / ".claude" / "traces.json").write_text(json.dumps(config))
    home = work / f"home-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "HOME": str(home), "TRACES_HOME": str(home / "traces")}
    argv = [sys.executable, "-c", "import resource, sys, traces; code = traces.main(sys.argv[1:]); "
            "print('maxrss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(code)", "import", str(folder)]
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=repo, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"traces import failed: {done.stderr[-2000:]}")
    turns = int(done.stdout.split("Imported ", 1)[1].split()[0])
    rss = int(done.stdout.rsplit("maxrss ", 1)[1].split()[0]) / 1024
    return seconds, turns, rss


def run_legacy(work, paths, uri, per_session):
    """Seconds and traces of MLflow's processor over paths, into uri."""
    env = {**os.environ, "MLFLOW_CLAUDE_TRACING_ENABLED": "true", "MLFLOW_TRACKING_URI": uri,
           "MLFLOW_EXPERIMENT_NAME": "bench-legacy", "HOME": str(work)}
    batches = [[str(p)] for p in paths] if per_session else [[str(p) for p in paths]]
    start = time.perf_counter()
    for batch in batches:
        subprocess.run([sys.executable, "-c", LEGACY_ONE, *batch], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
    return time.perf_counter() - start, len(paths)


def compare(work, paths, folder, uri_for):
    """ms per trace: ours, MLflow's per session and in one process; returns the figures."""
    ours_s, ours_n, _ = run_import(work, folder, uri_for("ours"))
    legacy_s, legacy_n = run_legacy(work, paths, uri_for("legacy"), per_session=True)
    batch_s, batch_n = run_legacy(work, paths, uri_for("legacy-one"), per_session=False)
    ours, legacy, one = ours_s * 1000 / ours_n, legacy_s * 1000 / legacy_n, batch_s * 1000 / batch_n
    print(f"    traces import: {ours_n} traces in {ours_s:.1f} s = {ours:.1f} ms/trace")
    print(f"    MLflow processor, a process per session (as its hook): {legacy_n} traces in {legacy_s:.1f} s"
          f" = {legacy:.0f} ms/trace  → ours {legacy / ours:.1f}x faster")
    print(f"    MLflow processor, one process for all: {batch_n} traces in {batch_s:.1f} s"
          f" = {one:.0f} ms/trace  → ours {one / ours:.1f}x faster")
    return {"ours_ms": ours, "legacy_ms": legacy, "legacy_one_process_ms": one,
            "ratio": legacy / ours, "ratio_one_process": one / ours}


def main(sessions=40, memory_sessions=(100, 1000)):
    work = Path(tempfile.mkdtemp(prefix="traces-bench-import-"))
    figures = {}
    try:
        folder = work / "sessions"
        paths = make_sessions(folder, sessions)
        print(f"  {sessions} two-turn sessions, local store:")
        figures["local"] = compare(work, paths, folder, lambda name: f"sqlite:///{work}/{name}.db")
        from servers import MlflowServer
        print(f"  {sessions} two-turn sessions, `mlflow server` (SQLite):")
        with MlflowServer() as server:
            figures["server"] = compare(work, paths, folder, lambda name: server.url)
        for count in memory_sessions:
            more = make_sessions(work / f"memory-{count}", count)
            seconds, turns, rss = run_import(work, more[0].parent)
            print(f"  import of {count} sessions: {turns} traces in {seconds:.1f} s "
                  f"({seconds * 1000 / turns:.1f} ms/trace), peak RSS {rss:.0f} MB")
            figures[f"memory_{count}"] = {"seconds": seconds, "traces": turns, "peak_rss_mb": rss}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return figures


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
