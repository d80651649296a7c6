"""Benchmarks (`make bench`; not part of `make test`). Figures are ratios against a baseline
measured in the same run, because the machines are shared and noisy.

    python tests/bench/run.py [startup|hook|parse|turn|search|redact|worker|session|import ...]
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

BENCH = Path(__file__).resolve().parent
TESTS = BENCH.parent
ROOT = TESTS.parent
sys.path[:0] = [str(ROOT), str(TESTS), str(BENCH)]

import traces  # noqa: E402

RECORDED = TESTS / "fixtures" / "cc-2.1.330" / "resume"


def interleaved(commands, runs):
    """Median wall time (ms) of each command, run in turn so noise hits them alike."""
    times = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def bench_startup(runs=40):
    """`traces --help` against a bare interpreter (goal: median ≤ 60 ms)."""
    # The installed command imports the module (cached bytecode); a vendored copy run as
    # `python3 traces.py` is compiled on every run.
    installed = shutil.which("traces", path=os.path.dirname(sys.executable))
    commands = {"python -c pass": [sys.executable, "-c", "pass"],
                "python traces.py --help": [sys.executable, str(ROOT / "traces.py"), "--help"]}
    if installed:
        commands["traces --help"] = [installed, "--help"]
        commands["traces --version"] = [installed, "--version"]
    got = interleaved(commands, runs)
    base = got["python -c pass"]
    for name, ms in got.items():
        print(f"  {name:<24} {ms:7.1f} ms  ({ms / base:.2f}x python -c pass)")
    return got


def bench_hook(turns=12, **extra_env):
    """Hook time as Claude Code records it (stop_hook_summary.durationMs; goal p50 ≤ 20 ms),
    against a hook that runs `true`, in interleaved sessions of the real binary."""
    from claude_harness import claude_bin, claude_env, run_claude, transcript_path
    from fakeapi import FakeAnthropic
    if claude_bin() is None:
        print("  skipped: Claude Code is not installed (make claude)")
        return None
    work = Path(tempfile.mkdtemp(prefix="traces-bench-hook-"))
    home = work / "home"
    os.environ["TRACES_HOME"] = str(work / "traces-home")
    repos = {}
    for name in ("traces hook", "true"):
        repo = work / name.replace(" ", "-")
        repo.mkdir()
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        if name == "traces hook":
            subprocess.run([sys.executable, str(ROOT / "traces.py"), "init", "--local", "--yes"], cwd=repo,
                           check=True, capture_output=True)
        else:
            (repo / ".claude").mkdir()
            hook = {"hooks": [{"type": "command", "command": "true"}]}
            (repo / ".claude" / "settings.json").write_text(json.dumps({"hooks": {"Stop": [hook]}}))
        repos[name] = repo
    durations = {name: [] for name in repos}
    with FakeAnthropic() as api:
        env = claude_env(home, api.url, TRACES_HOME=os.environ["TRACES_HOME"], **extra_env)
        for _ in range(turns):
            for name, repo in repos.items():
                code, session, _, err = run_claude(repo, "CT-SCENARIO plain: say hi", env)
                if code != 0 or not session:
                    raise SystemExit(f"claude failed: {err[-500:]}")
                for line in open(transcript_path(home, repo, session)):
                    if '"stop_hook_summary"' in line:
                        for info in json.loads(line).get("hookInfos", []):
                            durations[name].append(info["durationMs"])
    shutil.rmtree(work, ignore_errors=True)
    base = statistics.median(durations["true"])
    for name, values in durations.items():
        p50 = statistics.median(values)
        print(f"  {name:<12} p50 {p50:6.1f} ms  p90 {sorted(values)[int(len(values) * 0.9) - 1]:6.1f} ms"
              f"  n={len(values)}  ({p50 - base:+.1f} ms over `true`)")
    return durations


def recorded_session():
    [path] = [p for p in RECORDED.glob("*.jsonl") if p.name != "hooks.jsonl"]
    return path


def build_long_session(folder, target_bytes):
    """A session of many turns made of the recorded turns with fresh ids; returns its path."""
    source = recorded_session()
    lines = source.read_text().splitlines()
    session = str(uuid.uuid4())
    path = Path(folder) / f"{session}.jsonl"
    shutil.copytree(source.parent / source.stem, Path(folder) / session)
    size, copies = 0, 0
    with open(path, "w") as out:
        while size < target_bytes:
            copies += 1
            for line in lines:
                # New uuids make each copy's turns distinct, as in a real long session.
                line = line.replace('"uuid":"', f'"uuid":"c{copies}-')
                out.write(line + "\n")
                size += len(line) + 1
    return path


def bench_parse(megabytes=100):
    """Full parse (read, split into turns, analyse with subagents) of a ~100 MB transcript
    against plain `json.loads` of every line of the same file (goal ≥ 0.8x its throughput)."""
    folder = tempfile.mkdtemp(prefix="traces-bench-parse-")
    path = build_long_session(folder, megabytes * 1_000_000)
    size = os.path.getsize(path)

    def plain():
        with open(path, "rb") as f:
            for line in f:
                json.loads(line)

    def ours():
        records, _, _ = traces.read_lines(str(path), 0, True)
        agents = traces.Subagents(str(path)[:-len(".jsonl")] + "/subagents")
        for turn in traces.split_turns(records):
            traces.analyse(turn["records"], traces.parse_time(turn["records"][0].get("timestamp")), agents)

    best = {"json.loads": [], "traces": []}
    for _ in range(3):
        for name, fn in (("json.loads", plain), ("traces", ours)):
            start = time.perf_counter()
            fn()
            best[name].append(time.perf_counter() - start)
    shutil.rmtree(folder, ignore_errors=True)
    plain_s, ours_s = min(best["json.loads"]), min(best["traces"])
    print(f"  {size / 1e6:.0f} MB: json.loads of every line {plain_s:.2f} s, traces full parse {ours_s:.2f} s"
          f"  → throughput {plain_s / ours_s:.2f}x json.loads")
    return plain_s, ours_s


def bench_turn(turns=100):
    """The cost of tracing turn N of a long session from its checkpoint: turn 100 against turn 1
    (goal: flat). When a turn ends, the transcript ends with it: the worker reads from the
    checkpoint (the turn's first byte) to the end of the file and analyses that turn."""
    folder = tempfile.mkdtemp(prefix="traces-bench-turn-")
    source = recorded_session()
    path = build_long_session(folder, len(source.read_bytes()) * turns)
    data = path.read_bytes()
    records, _, _ = traces.read_lines(str(path), 0, True)
    offsets = [t["offset"] for t in traces.split_turns(records)] + [len(data)]
    agents_folder = str(path)[:-len(".jsonl")] + "/subagents"

    def trace_turn(index):
        # The file as it is when turn `index` has just ended.
        live = Path(folder) / f"live-{index}.jsonl"
        live.write_bytes(data[:offsets[index + 1]])
        start = time.perf_counter()
        recs, _, _ = traces.read_lines(str(live), offsets[index], False)
        [turn] = traces.split_turns(recs)
        traces.analyse(turn["records"], 0, traces.Subagents(agents_folder))
        return time.perf_counter() - start

    count = len(offsets) - 1
    first = statistics.median(trace_turn(0) for _ in range(15))
    last = statistics.median(trace_turn(count - 1) for _ in range(15))
    shutil.rmtree(folder, ignore_errors=True)
    print(f"  {count} turns ({len(data) / 1e6:.0f} MB): turn 1 {first * 1000:.2f} ms, turn {count} {last * 1000:.2f} ms"
          f"  → {last / first:.2f}x")
    return first, last


def bench_search():
    """Reading commands on 10,000 traces, whole commands against `python -c pass` (goal ≤ 5x; -f json ≤ 10x)."""
    from bench_search import main as search_main
    return search_main()


def bench_redact():
    """Redaction cost per MB of transcript-like text, against `json.loads` of the same lines."""
    from bench_redact import bench_redact as run
    figures = run()
    print("  " + json.dumps(figures))
    return figures


def bench_worker():
    """CPU seconds per turn over a 20-turn session: a warm worker against a fresh one per turn."""
    from bench_worker import main as worker_main
    return worker_main()


def bench_session():
    """CPU per turn of a warm worker at turns 10, 300 and 1,000 of one session (goal: turn 1,000 ≤ 1.3x turn 10)."""
    from bench_worker import long_session
    return long_session()


def bench_import():
    """`traces import` of 40 sessions against MLflow's own processor (goal ≥ 25x per trace)."""
    from bench_import import main as import_main
    return import_main()


BENCHES = {"startup": bench_startup, "parse": bench_parse, "turn": bench_turn, "redact": bench_redact,
           "search": bench_search, "hook": bench_hook, "worker": bench_worker,
           "session": bench_session, "import": bench_import}

if __name__ == "__main__":
    chosen = sys.argv[1:] or list(BENCHES)
    for name in chosen:
        print(f"{name}: {BENCHES[name].__doc__.splitlines()[0]}")
        BENCHES[name]()
