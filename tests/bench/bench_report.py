"""What the new report keys cost (issue 24: week, month, 5-hour blocks, --until, --breakdown):
`traces report` in each shape against `report` of b6fba38 (before them), on stores of 10,000
and 40,000 turns, whole commands timed from outside, interleaved with `python -c pass`.

The stores are bench_agents' (bench_search's 10,000, cached, and a copy grown to 40,000). A
block needs every turn sorted by time, the others one pass; all of them read the same tags.

    python tests/bench/bench_report.py
"""
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

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


def main():
    work = Path(tempfile.mkdtemp(prefix="bench-report-"))
    before = work / "before.py"
    before.write_text(subprocess.run(["git", "show", f"{BEFORE}:traces.py"], cwd=BENCH.parents[1],
                                     capture_output=True, text=True, check=True).stdout)
    repo = trace_store.git_repo(work / "repo")
    (repo / ".claude").mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "TRACES_HOME": str(work / "traces-home")}
    figures = {}
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
