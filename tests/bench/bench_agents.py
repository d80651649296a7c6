"""What reading across agents costs: the reading commands now against the same commands of
ad0a3ea (before `--agent` on report and list and the agent on each turn), on stores of 10,000
and 40,000 turns, whole commands timed from outside, interleaved with `python -c pass`.

The stores are bench_search's 10,000 (built once, cached) and a copy grown to 40,000, every turn
Claude Code's. `--agent claude` cannot be asked of the store (traces from before the tag are
Claude Code's too): it is checked here, turn by turn. At c90e88d the summary asked the store
whether the experiment held another agent's turn: with none there, a pass over every trace.

    python tests/bench/bench_agents.py
"""
import json
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parents[1]), str(BENCH.parent), str(BENCH)]

import bench_search  # noqa: E402
import trace_store  # noqa: E402

BEFORE = "ad0a3ea"
CASES = {
    "search": ["search"], "search -f context": ["search", "-f", "context"],
    "search --agent claude": ["search", "--agent", "claude"], "report": ["report"],
    "report --agent claude": ["report", "--agent", "claude"], "list": ["list"], "list --agent claude": ["list", "--agent", "claude"],
}


def store_of(size, work):
    """A local store of `size` Claude Code turns: bench_search's, grown by its copying."""
    cache = bench_search.CACHE
    if not (cache / "layout.json").exists() or \
            json.loads((cache / "layout.json").read_text()).get("layout") != bench_search.LAYOUT:
        bench_search.build(cache)
    db = cache / "mlflow.db"
    if size > bench_search.TOTAL:
        db = work / f"store-{size}.db"
        shutil.copy(cache / "mlflow.db", db)
        bench_search.clone(db, size, random.Random(size), time.time())
    return db


def main():
    work = Path(tempfile.mkdtemp(prefix="bench-agents-"))
    before = work / "before.py"
    before.write_text(subprocess.run(["git", "show", f"{BEFORE}:traces.py"], cwd=BENCH.parents[1],
                                     capture_output=True, text=True, check=True).stdout)
    repo = trace_store.git_repo(work / "repo")
    (repo / ".claude").mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "TRACES_HOME": str(work / "traces-home")}
    figures = {}
    for size in (bench_search.TOTAL, 4 * bench_search.TOTAL):
        db = store_of(size, work)
        count = sqlite3.connect(db).execute("SELECT COUNT(*) FROM trace_info").fetchone()[0]
        (repo / ".claude" / "traces.json").write_text(json.dumps({"tracking_uri": f"sqlite:///{db}",
                                                                 "experiment": bench_search.EXPERIMENT}))
        # Both versions in one interleaved run, so noise hits them alike.
        cases = {f"{name} ({label})": [sys.executable, str(program), *argv] for name, argv in CASES.items()
                 for label, program in (("now", BENCH.parents[1] / "traces.py"), (BEFORE, before))
                 if label == "now" or "--agent" not in argv}
        figures.update(bench_search.time_commands(f"{count} turns", repo, env, [], cases, 7))
    shutil.rmtree(work, ignore_errors=True)
    return figures


if __name__ == "__main__":
    main()
