"""What the new report keys cost (issue 24: week, month, 5-hour blocks, --until, --breakdown):
`traces report` in each shape against `report` of b6fba38 (before them), on stores of 10,000
and 40,000 turns, whole commands timed from outside, interleaved with `python -c pass`.

The stores are bench_agents' (bench_search's 10,000, cached, and a copy grown to 40,000). A
block needs every turn sorted by time, the others one pass; all of them read the same tags.
Whole commands on a shared machine differ by ±25 % from run to run, more than the keys cost:
the rows alone (the turns' keys and sums, in process, from 40,000 turns' tags) are timed too,
against b6fba38's loop.

    python tests/bench/bench_report.py
"""
import importlib.util
import json
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parents[1]), str(BENCH.parent), str(BENCH)]

import bench_agents  # noqa: E402
import bench_search  # noqa: E402
import trace_store  # noqa: E402

BEFORE = "b6fba38"
CASES = {
    "report": ["report"], "report --by week": ["report", "--by", "week"],
    "report --by month": ["report", "--by", "month"], "report --by block": ["report", "--by", "block"],
    "report --breakdown": ["report", "--breakdown"],
    "report --by block --breakdown --json": ["report", "--by", "block", "--breakdown", "--json"],
    "report --since 4w --until 1w": ["report", "--since", "4w", "--until", "1w"],
}


def before_rows(before, infos):
    """b6fba38's cmd_report loop, without its printing: the rows by day."""
    rows, total = {}, {"turns": 0, "tokens": dict.fromkeys(before.REPORT_TOKENS, 0), "cost_usd": 0.0, "turns_without_cost": 0}
    for info in infos:
        row = rows.setdefault(before.REPORT_KEYS["day"](info), {"turns": 0, "tokens": dict.fromkeys(before.REPORT_TOKENS, 0),
                                                                "cost_usd": 0.0, "turns_without_cost": 0})
        tokens = [(kind, before.int_tag(info, "tokens." + kind)) for kind in before.REPORT_TOKENS]
        cost = before.cost_tag(info)
        for target in (row, total):
            target["turns"] += 1
            for kind, count in tokens:
                target["tokens"][kind] += count
            if cost is None:
                target["turns_without_cost"] += 1
            else:
                target["cost_usd"] += cost
    return rows


def time_rows(before_path, turns=40_000, runs=5):
    """Median ms of the rows alone, from turns' tags in memory, now against b6fba38."""
    import traces
    spec = importlib.util.spec_from_file_location("before", before_path)
    before = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(before)
    rng, now = random.Random(5), time.time()
    tags = {"tokens.input": "100", "tokens.output": "20", "tokens.cache_read": "1000", "tokens.cache_creation": "50",
            "tokens.total": "1170", "cost.usd": "0.01"}
    infos = [SimpleNamespace(request_time=int((now - rng.uniform(0, 30 * 86400)) * 1000), tags=tags,
                             trace_metadata={traces.META_MODELS: rng.choice(["claude-opus-5-5", "claude-haiku-4-5"])})
             for _ in range(turns)]
    cases = {f"day ({BEFORE})": lambda: before_rows(before, infos)}
    cases.update({f"{by}{' --breakdown' if breakdown else ''} (now)": (lambda by=by, b=breakdown: traces.report_rows(infos, by, b))
                  for by in ("day", "week", "month", "block") for breakdown in (False, True)})
    times = {name: [] for name in cases}
    for _ in range(runs):
        for name, fn in cases.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    base = statistics.median(times[f"day ({BEFORE})"])
    print(f"  the rows alone, {turns} turns in process:")
    for name, values in times.items():
        ms = statistics.median(values) * 1000
        print(f"    {name:<26} {ms:8.0f} ms  {ms / 1000 / base:6.2f}x day ({BEFORE})")
    return {f"rows {name}": round(statistics.median(values) / base, 2) for name, values in times.items()}


def main():
    work = Path(tempfile.mkdtemp(prefix="bench-report-"))
    before = work / "before.py"
    before.write_text(subprocess.run(["git", "show", f"{BEFORE}:traces.py"], cwd=BENCH.parents[1],
                                     capture_output=True, text=True, check=True).stdout)
    repo = trace_store.git_repo(work / "repo")
    (repo / ".claude").mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "TRACES_HOME": str(work / "traces-home")}
    figures = time_rows(before)
    for size in (bench_search.TOTAL, 4 * bench_search.TOTAL):
        db = bench_agents.store_of(size, work)
        count = sqlite3.connect(db).execute("SELECT COUNT(*) FROM trace_info").fetchone()[0]
        (repo / ".claude" / "traces.json").write_text(json.dumps({"tracking_uri": f"sqlite:///{db}",
                                                                 "experiment": bench_search.EXPERIMENT}))
        cases = {f"{name} (now)": [sys.executable, str(BENCH.parents[1] / "traces.py"), *argv]
                 for name, argv in CASES.items()}
        cases[f"report ({BEFORE})"] = [sys.executable, str(before), "report"]
        figures.update(bench_search.time_commands(f"{count} turns", repo, env, [], cases, 7))
    shutil.rmtree(work, ignore_errors=True)
    return figures


if __name__ == "__main__":
    main()
