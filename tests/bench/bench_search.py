"""How fast the reading commands answer on a store of 10,000 turns, with and without mlflow.

The store is built once and cached in tests/bench/.cache/ (gitignored): the engine traces
recorded Claude Code sessions (fixtures/cc-2.1.330, varied in memory: session ids, times,
branches, prompts) into a local SQLite MLflow store, then those engine-written traces are
copied row by row inside the store, with fresh trace ids, sessions, turn ids, branches and
times, until there are 10,000. The engine writes one commit per span, about 0.4 s per turn on a
laptop, which is over an hour for 10,000; the copy takes seconds and the reading side sees
exactly what the engine writes.

    python tests/bench/bench_search.py [--rebuild]

Goal (issue 13): search, list and report ≤ 5x `python -c pass`, `search -f json` ≤ 10x, whole
commands timed from outside.
"""
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS.parent), str(TESTS)]

import trace_store  # noqa: E402

import traces  # noqa: E402

CACHE = TESTS / "bench" / ".cache" / "search-10k"
TOTAL = 10_000
ENGINE_SESSIONS = 40
BRANCHES = ("main", "feature-x", "fix/login", "refactor/db")
EXPERIMENT = "acme/widgets"
LAYOUT = 1          # bump when the way the store is built changes


def build(folder):
    if not trace_store.recorded_sessions():
        sys.exit(f"no recorded transcripts in {trace_store.RECORDED}: record them first")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = random.Random(4)
    now = time.time()
    plan = [(EXPERIMENT, f"bench-{i:04d}-0000-4000-8000-{i:012d}", now - rng.uniform(0, 30 * 86400),
             rng.choice(BRANCHES), f"bench {i}") for i in range(ENGINE_SESSIONS)]
    started = time.time()
    uri = trace_store.fill(folder, plan)
    print(f"engine: {ENGINE_SESSIONS} sessions traced in {time.time() - started:.0f} s", file=sys.stderr)
    started = time.time()
    clone(folder / "mlflow.db", TOTAL, rng, now)
    print(f"copied up to {TOTAL} traces in {time.time() - started:.0f} s", file=sys.stderr)
    (folder / "layout.json").write_text(json.dumps({"layout": LAYOUT, "traces": TOTAL, "uri": uri}))


def clone(db_path, total, rng, now):
    """Copy engine-written traces inside the store until it holds `total` of them."""
    db = sqlite3.connect(db_path)
    templates = [r[0] for r in db.execute("SELECT request_id FROM trace_info")]
    have = len(templates)
    columns = {t: [r[1] for r in db.execute(f"PRAGMA table_info({t})")]
               for t in ("trace_info", "trace_tags", "trace_request_metadata", "spans")}
    starts = dict(db.execute("SELECT request_id, timestamp_ms FROM trace_info"))
    rows = {}
    for template in templates:
        # Named columns: SELECT * also returns generated columns that cannot be inserted.
        rows[template] = {table: db.execute(
            f"SELECT {', '.join(cols)} FROM {table} WHERE {'trace_id' if table == 'spans' else 'request_id'} = ?",
            (template,)).fetchall() for table, cols in columns.items()}
    n = 0
    while have < total:
        template = templates[n % len(templates)]
        n += 1
        new_id = f"tr-{rng.getrandbits(128):032x}"
        session = f"copy-{n // 2:06d}-0000-4000-8000-000000000000"
        start_ms = int((now - rng.uniform(0, 30 * 86400)) * 1000)
        branch = rng.choice(BRANCHES)
        shift_ns = (start_ms - starts[template]) * 1_000_000
        for table, id_column in (("trace_info", "request_id"), ("trace_request_metadata", "request_id"),
                                 ("trace_tags", "request_id"), ("spans", "trace_id")):
            cols = columns[table]
            for row in rows[template][table]:
                row = dict(zip(cols, row))
                row[id_column] = new_id
                if table == "trace_info":
                    row["timestamp_ms"] = start_ms
                    row["session_id"] = session
                elif table == "spans":
                    row["start_time_unix_nano"] += shift_ns
                    row["end_time_unix_nano"] += shift_ns
                    row["content"] = row["content"].replace(template, new_id)
                elif row["key"] == "mlflow.trace.session":
                    row["value"] = session
                elif row["key"] == traces.TAG_TURN:
                    row["value"] = f"{session}:{new_id}"
                elif row["key"] == "git.branch":
                    row["value"] = branch
                elif isinstance(row["value"], str):
                    row["value"] = row["value"].replace(template, new_id)
                db.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                           [row[c] for c in cols])
        have += 1
    db.commit()
    db.close()


def timed(fn, runs=5):
    fn()                        # warm: imports, connection pool, SQLite page cache
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def time_commands(label, repo, env, command, cases, runs):
    """Median ms of each case and of `python -c pass`, interleaved; prints ratios."""
    times = {"python -c pass": [], **{name: [] for name in cases}}
    for _ in range(runs):
        for name in times:
            argv = [sys.executable, "-c", "pass"] if name == "python -c pass" else command + cases[name]
            started = time.perf_counter()
            done = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True)
            times[name].append(time.perf_counter() - started)
            assert done.returncode == 0 and "No traces" not in done.stdout, done.stderr[-500:]
    base = statistics.median(times.pop("python -c pass"))
    print(f"  {label}: python -c pass {base * 1000:.0f} ms")
    figures = {}
    for name, values in times.items():
        ms = statistics.median(values) * 1000
        figures[f"{label} {name}"] = round(ms / 1000 / base, 1)
        print(f"    {name:<26} {ms:8.0f} ms  {ms / 1000 / base:6.1f}x python -c pass")
    return figures


# What any reader pays, whole commands like ours, with nothing of ours: a server's trace infos,
# 40 (the page `search` asks for) or all of them 500 a page (the most a server gives), then
# optionally their spans in batches of the 20 `search -f json` shows; and a local store's
# reading that `report` cannot do without (tokens, cost and the day of every trace).
SERVER_FLOOR = """
import json, sys, urllib.parse, urllib.request
url, experiment, page, spans, token, ids = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "spans", None, []
def call(endpoint, body=None):
    request = urllib.request.Request(url + "/api/3.0/mlflow/traces/" + endpoint, body and json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(request).read())
while True:
    answer = call("search", {"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment}}],
                             "max_results": page, "order_by": ["timestamp_ms DESC"], **({"page_token": token} if token else {})})
    ids += [t["trace_id"] for t in answer.get("traces", [])]
    token = answer.get("next_page_token")
    if not token or page < 500:
        break
if spans:
    call("batchGet?" + urllib.parse.urlencode([("trace_ids", t) for t in ids[:20]]))
"""
LOCAL_FLOOR = """
import sqlite3, sys, time
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
days = {r: time.strftime("%Y-%m-%d", time.localtime(t / 1000)) for r, t in db.execute("SELECT request_id, timestamp_ms FROM trace_info")}
values = db.execute("SELECT request_id, key, value FROM trace_tags NOT INDEXED WHERE key IN "
                    "('tokens.input', 'tokens.output', 'tokens.cache_read', 'tokens.cache_creation', 'cost.usd')").fetchall()
"""


def main():
    """Whole commands from outside, interleaved with `python -c pass`, on 10,000 traces: the
    local store and an `mlflow server` holding the same traces, each read by our own reader
    and through the mlflow client; then what the reading alone costs there, as the floor."""
    if "--rebuild" in sys.argv or not (CACHE / "layout.json").exists() or \
            json.loads((CACHE / "layout.json").read_text()).get("layout") != LAYOUT:
        build(CACHE)
    uri = json.loads((CACHE / "layout.json").read_text())["uri"]
    work = Path(tempfile.mkdtemp(prefix="bench-search-"))
    repo = trace_store.git_repo(work / "repo")
    (repo / ".claude").mkdir()
    count = sqlite3.connect(uri.split(":///", 1)[1]).execute("SELECT COUNT(*) FROM trace_info").fetchone()[0]
    print(f"store: {count} traces ({uri})")
    installed = shutil.which("traces", path=os.path.dirname(sys.executable))
    command = [installed] if installed else [sys.executable, str(TESTS.parent / "traces.py")]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}   # users' bytecode is cached
    env["TRACES_HOME"] = str(work / "traces-home")
    cases = {
        "search": ["search"], "search -l 20": ["search", "-l", "20"],
        "search --branch --tool": ["search", "--branch", "feature-x", "--tool", "Bash"],
        "search -f context": ["search", "-f", "context"], "search -f json": ["search", "-f", "json"],
        "search -f tools": ["search", "-f", "tools"], "report": ["report"], "list": ["list"],
    }
    figures = {}
    from servers import MlflowServer
    copy = work / "server.db"
    shutil.copy(uri.split(":///", 1)[1], copy)
    with MlflowServer(f"sqlite:///{copy}") as server:
        for where, tracking_uri in (("local", uri), ("server", server.url)):
            (repo / ".claude" / "traces.json").write_text(json.dumps({"tracking_uri": tracking_uri,
                                                                     "experiment": EXPERIMENT}))
            for reader, runs in (("ours", 7), ("mlflow", 3)):
                env[traces.ENV_READER] = reader
                figures.update(time_commands(f"{where}, {reader} reader", repo, env, command, cases, runs))
        experiment = sqlite3.connect(copy).execute("SELECT experiment_id FROM experiments WHERE name = ?",
                                                   (EXPERIMENT,)).fetchone()[0]
        floors = {"40 trace infos": ["-c", SERVER_FLOOR, server.url, str(experiment), "40", "-"],
                  "40 infos, spans of 20": ["-c", SERVER_FLOOR, server.url, str(experiment), "40", "spans"],
                  "all trace infos": ["-c", SERVER_FLOOR, server.url, str(experiment), "500", "-"]}
        figures.update(time_commands("server floor, urllib alone", repo, env, [sys.executable], floors, 3))
    floor = {"report's reading": ["-c", LOCAL_FLOOR, uri.split(":///", 1)[1]]}
    figures.update(time_commands("local floor, sqlite3 alone", repo, env, [sys.executable], floor, 7))
    shutil.rmtree(work, ignore_errors=True)
    return figures


if __name__ == "__main__":
    main()
