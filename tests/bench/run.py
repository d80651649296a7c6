"""Benchmarks (`make bench`; not part of `make test`). Figures are ratios against a baseline
measured in the same run, because the machines are shared and noisy.

    python tests/bench/run.py [startup|hook|parse|turn|search|redact|worker|session|import|terminal|prices|versions|gemini|doctor|agents|show|blame|report|statusline|budget_hook|codex_budget_hook ...]
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
# Every command we time runs as users have it: with its bytecode cached (some shells set this).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

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


def bench_agents():
    """Reading commands now against ad0a3ea, on 10,000 and 40,000 turns of one agent (the agent on each turn's cost)."""
    from bench_agents import main as agents_main
    return agents_main()


def bench_report():
    """`traces report` by week, month, block, --until, --breakdown against b6fba38's report, on 10,000 and 40,000 turns."""
    from bench_report import main as report_main
    return report_main()


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


def bench_terminal(sizes=(10_000, 1_000_000, 10_000_000), lines=100_000, runs=5):
    """The terminal boundary, in CPU time: big texts through a TerminalStream against json.dumps of
    the same text (what -f json pays to make it), at three sizes; then the print() of many short
    lines (as `search` writes them) through it against straight (goal: linear in size, near the
    json.dumps, about 1 µs a print)."""
    from bench_redact import transcript_lines
    ordinary = "\n".join(transcript_lines(1)[0])        # prose, commands and code, as JSON lines
    # The worst case: a control character in every ten, each written out as four characters.
    hostile = "".join(ordinary[i:i + 9] + "\x1b" for i in range(0, len(ordinary), 9))
    figures = {}
    with open(os.devnull, "w", encoding="utf-8") as sink:
        through = traces.TerminalStream(sink)
        for kind, text in (("ordinary", ordinary), ("hostile", hostile)):
            for size in sizes:
                piece = (text * (size // len(text) + 1))[:size]
                made = best_ms(lambda: json.dumps(piece, ensure_ascii=False), runs)
                safe = best_ms(lambda: through.write(piece), runs)
                figures[f"{kind} {size:,} chars"] = round(safe / made, 2)
                print(f"  {kind:<8} {size:>12,} chars: json.dumps {made:8.2f} ms, through the boundary "
                      f"{safe:8.2f} ms ({safe / made:.2f}x, {safe / size * 1e6:.1f} ms per M chars)")
        rows = [f"  tokens   {n:,} (in {n // 7:,}, out {n // 9:,})  cost ${n / 1e6:.4f}" for n in range(lines)]
        for name, stream in (("straight", sink), ("through", through)):
            figures[f"print {name}"] = best_ms(lambda: [print(row, file=stream) for row in rows], runs)
        extra = (figures["print through"] - figures["print straight"]) / lines * 1e6
        print(f"  {lines:,} prints: straight {figures['print straight']:.1f} ms, through the boundary "
              f"{figures['print through']:.1f} ms (+{extra:.0f} ns a print)")
        figures.update(boundary_share(sink))
    return figures


class Recorder:
    """stdout for a command run in-process: keeps each piece it writes."""

    def __init__(self):
        self.pieces = []

    def write(self, text):
        self.pieces.append(text)

    def flush(self):
        pass

    def isatty(self):
        return False


def boundary_share(sink, runs=5):
    """Each reading command on the search benchmark's 10,000 traces, run in-process (imports
    done): its own CPU time, and what its writes cost through the boundary more than straight."""
    import bench_search
    if not (bench_search.CACHE / "layout.json").exists():
        bench_search.build(bench_search.CACHE)
    uri = json.loads((bench_search.CACHE / "layout.json").read_text())["uri"]
    work = Path(tempfile.mkdtemp(prefix="traces-bench-terminal-"))
    repo = bench_search.trace_store.git_repo(work / "repo")
    (repo / ".claude").mkdir()
    (repo / ".claude" / "traces.json").write_text(json.dumps({"tracking_uri": uri, "experiment": bench_search.EXPERIMENT}))
    os.environ["TRACES_HOME"] = str(work / "traces-home")
    cwd, real, figures = os.getcwd(), sys.stdout, {}
    os.chdir(repo)
    try:
        for argv in (["search"], ["search", "-l", "0"], ["search", "-f", "context"], ["search", "-f", "json"],
                     ["report"], ["report", "--by", "session"], ["list"]):
            recorder = Recorder()
            sys.stdout = recorder
            took = best_ms(lambda: traces.main(argv), runs)
            sys.stdout = real
            pieces, through = recorder.pieces[:len(recorder.pieces) // runs], traces.TerminalStream(sink)
            extra = best_ms(lambda: [through.write(p) for p in pieces], runs) - \
                best_ms(lambda: [sink.write(p) for p in pieces], runs)
            figures[" ".join(argv)] = round(extra / took, 4)
            print(f"  {' '.join(argv):<20} {sum(map(len, pieces)):>10,} chars in {len(pieces):>7,} writes: "
                  f"the command {took:7.1f} ms, the boundary +{extra:6.2f} ms ({extra / took:.1%})")
    finally:
        sys.stdout = real
        os.chdir(cwd)
        shutil.rmtree(work, ignore_errors=True)
    return figures


def best_ms(fn, runs):
    """The least CPU time of runs calls (the machine is shared: the least is the least disturbed)."""
    times = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        times.append((time.process_time() - start) * 1000)
    return min(times)


def bench_prices():
    """`traces import` of Codex sessions priced by genai-prices against the library hidden."""
    from bench_prices import main as prices_main
    return prices_main()


def bench_versions():
    """The local reader on stores of MLflow 3.10.1 and the venv's, 4 and 10,000 turns, against `python -c pass`."""
    from bench_versions import main as versions_main
    return versions_main()


def bench_gemini():
    """Reading Gemini CLI chats: throughput against json.loads, the last turn at 10 and 1,000 turns, the older form per turn."""
    from bench_gemini import main as gemini_main
    return gemini_main()


def bench_doctor():
    """`traces doctor` (a round trip per agent) and `traces status` for 1, 2 and 4 agents wired, against one."""
    from bench_doctor import main as doctor_main
    return doctor_main()


def bench_statusline():
    """`traces statusline` against `python -c pass`, as the summary and the spool grow (goal ≤ 3x)."""
    from bench_budget import bench_statusline as run
    return run()


def bench_budget_hook():
    """The budget's UserPromptSubmit hook as Claude Code records it, against `echo` (goal: a few ms over it)."""
    from bench_budget import bench_budget_hook as run
    return run()


def bench_codex_budget_hook():
    """Codex's budget hook through `sh -c`, in its repository and another, against `echo` and Claude's hook."""
    from bench_budget import bench_codex_budget_hook as run
    return run()


def bench_show():
    """`traces show` on a turn of 200 steps (and 20, 2,000) against `python -c pass` and `traces search`."""
    from bench_show import main as show_main
    return show_main()


def bench_blame():
    """`traces blame` of a file edited by 50, 200 and 400 traced turns, against `git blame` of it."""
    from bench_blame import main as blame_main
    return blame_main()


BENCHES = {"startup": bench_startup, "parse": bench_parse, "turn": bench_turn, "redact": bench_redact,
           "search": bench_search, "hook": bench_hook, "worker": bench_worker,
           "session": bench_session, "import": bench_import, "terminal": bench_terminal, "prices": bench_prices,
           "versions": bench_versions, "gemini": bench_gemini, "doctor": bench_doctor, "agents": bench_agents,
           "show": bench_show, "blame": bench_blame, "report": bench_report,
           "statusline": bench_statusline, "budget_hook": bench_budget_hook,
           "codex_budget_hook": bench_codex_budget_hook}

if __name__ == "__main__":
    chosen = sys.argv[1:] or list(BENCHES)
    for name in chosen:
        print(f"{name}: {BENCHES[name].__doc__.splitlines()[0]}")
        BENCHES[name]()
