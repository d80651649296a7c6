"""What pricing with genai-prices costs: `traces import` of N Codex sessions whose model only
genai-prices knows (gpt-5.1-codex), against the same command with the library hidden (the
built-in table, which leaves that model unpriced), run in turn in the same run; at two sizes,
to see how the cost grows. Then, in-process: one cost_of call of each path, and importing the
library against `python -c pass`.

The sessions are the recorded two-turn Codex session (tests/fixtures/codex-0.169.0/resume: six
model responses) with fresh ids.

    python tests/bench/bench_prices.py [N ...]
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import uuid
from pathlib import Path

BENCH = Path(__file__).resolve().parent
TESTS = BENCH.parent
ROOT = TESTS.parent
sys.path[:0] = [str(ROOT), str(TESTS)]

SOURCE = next((TESTS / "fixtures" / "codex-0.169.0" / "resume").glob("rollout-*.jsonl"))
SESSION = SOURCE.stem[-36:]
# The library hidden the way a bare Python lacks it: its import fails.
RUN = ("import sys\nif sys.argv.pop(1) == 'hidden': sys.modules['genai_prices'] = None\n"
       "import traces\nsys.exit(traces.main(sys.argv[1:]))")


def make_sessions(folder, count, model="gpt-5.1-codex"):
    text = SOURCE.read_text().replace('"model":"gpt-test"', f'"model":"{model}"')
    folder.mkdir(parents=True)
    for _ in range(count):
        session = str(uuid.uuid4())
        (folder / SOURCE.name.replace(SESSION, session)).write_text(text.replace(SESSION, session))
    for path in folder.iterdir():
        os.utime(path, (1, 1))          # quiet for long: every turn is over
    return folder


def run_import(work, folder, library):
    """Wall and CPU seconds of `traces import folder` into a fresh local store, and the turns it
    imported. CPU time is the steadier figure on a shared machine."""
    tag = uuid.uuid4().hex[:6]
    repo = work / f"repo-{tag}"
    (repo / ".claude").mkdir(parents=True)
    (repo / ".claude" / "traces.json").write_text(json.dumps({"experiment": "bench-prices"}))
    env = {**os.environ, "HOME": str(work / f"home-{tag}"), "TRACES_HOME": str(work / f"home-{tag}" / "traces"),
           "PYTHONPATH": str(ROOT)}
    import resource
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RUN, library, "import", str(folder)], cwd=repo, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"traces import failed: {done.stderr[-2000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return seconds, cpu, int(done.stdout.split("Imported ", 1)[1].split()[0])


def whole_commands(work, sizes, runs=5):
    figures = {}
    for count in sizes:
        folder = make_sessions(work / f"sessions-{count}", count)
        wall, cpu = {"genai-prices": [], "hidden": []}, {"genai-prices": [], "hidden": []}
        for _ in range(runs):
            for library in wall:
                seconds, cpu_seconds, turns = run_import(work, folder, library)
                wall[library].append(seconds)
                cpu[library].append(cpu_seconds)
        got = {f"{kind}_{library}": statistics.median(values[library])
               for kind, values in (("wall", wall), ("cpu", cpu)) for library in wall}
        print(f"  import of {count} sessions ({turns} turns, {turns * 3} responses), medians of {runs}: "
              f"wall {got['wall_genai-prices']:.2f} s with genai-prices, {got['wall_hidden']:.2f} s hidden"
              f" → {got['wall_genai-prices'] / got['wall_hidden']:.3f}x; CPU {got['cpu_genai-prices']:.2f} s"
              f" against {got['cpu_hidden']:.2f} s → {got['cpu_genai-prices'] / got['cpu_hidden']:.3f}x")
        figures[count] = {**got, "turns": turns}
    return figures


def per_call(number=2000):
    import traces
    usage = {**traces.empty_usage(), "input": 30_000, "cache_read": 120_000, "output": 2_000}
    traces.cost_of("gpt-5.1-codex", usage)      # the library imported and the model found once
    calls = {"Claude Code's catalog (claude-opus-5-5)": "claude-opus-5-5",
             "genai-prices (gpt-5.1-codex)": "gpt-5.1-codex", "unknown model (gpt-test)": "gpt-test"}
    got = {name: min(timeit.repeat(lambda m=model: traces.cost_of(m, usage), number=number, repeat=5)) / number
           for name, model in calls.items()}
    table = min(timeit.repeat(lambda: traces.openai_cost("gpt-5-codex", usage), number=number, repeat=5)) / number
    base = got["Claude Code's catalog (claude-opus-5-5)"]
    for name, seconds in [*got.items(), ("built-in table (gpt-5-codex)", table)]:
        print(f"  cost_of, {name}: {seconds * 1e6:.1f} µs  ({seconds / base:.1f}x Claude Code's catalog)")
    return got


def import_time(runs=10):
    commands = {"python -c pass": [sys.executable, "-c", "pass"],
                "import genai_prices": [sys.executable, "-c", "import genai_prices"],
                "import mlflow": [sys.executable, "-c", "import mlflow"]}
    times = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, check=True)
            times[name].append(time.perf_counter() - start)
    got = {name: statistics.median(values) for name, values in times.items()}
    for name, seconds in got.items():
        print(f"  {name}: {seconds * 1000:.0f} ms  ({seconds / got['python -c pass']:.1f}x python -c pass,"
              f" {seconds / got['import mlflow']:.2f}x import mlflow)")
    return got


def main(sizes=(10, 100)):
    work = Path(tempfile.mkdtemp(prefix="traces-bench-prices-"))
    try:
        return {"import": whole_commands(work, sizes), "per_call": per_call(), "import_time": import_time()}
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(*[tuple(int(a) for a in sys.argv[1:])] if sys.argv[1:] else [])
