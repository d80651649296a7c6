"""`traces doctor` and `traces status` as the user runs them, for a repository wired for one agent
(Claude Code: the baseline, what doctor did before it had a round trip per agent), two and all
four. Each wired agent adds a test turn of its own through its own hook command; they are sent
together and wait for the worker together (goal: 4 agents ≤ 1.5x one). Status adds a line per
agent (goal: flat).

Runs are interleaved, one repository after the other, each from a cold worker (the one the
previous run started has gone idle), against a local store in a temporary TRACES_HOME.

    python tests/bench/bench_doctor.py
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent.parent
AGENTS = {"1 agent": "claude", "2 agents": "claude,codex", "4 agents": "claude,codex,gemini,copilot"}
IDLE = 1                # the worker's idle seconds: each run starts a worker of its own


def traces(env, cwd, *args):
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "traces.py"), *args], env=env, cwd=cwd, capture_output=True,
                          text=True)
    return time.perf_counter() - started, done


def setup(work):
    """One repository per size, wired with init as a user would, under one private HOME."""
    home = work / "home"
    (home / ".gemini").mkdir(parents=True)
    env = {**os.environ, "HOME": str(home), "TRACES_HOME": str(work / "traces-home"), "CODEX_HOME": str(work / "codex"),
           "CLAUDETRACING_WORKER_IDLE": str(IDLE)}
    repos = {}
    for size, agents in AGENTS.items():
        repo = work / size.replace(" ", "-")
        repo.mkdir()
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        traces(env, repo, "init", "--agent", agents, "--local", "--yes")
        repos[size] = repo
    (home / ".gemini" / "trustedFolders.json").write_text(json.dumps({str(r): "TRUST_FOLDER" for r in repos.values()}))
    return env, repos


def main(runs=3):
    figures = {}
    with tempfile.TemporaryDirectory(prefix="traces-bench-doctor-") as folder:
        env, repos = setup(Path(folder))
        traces(env, repos["1 agent"], "doctor")         # the first upload creates the store
        times = {(size, command): [] for size in repos for command in ("doctor", "status")}
        for _ in range(runs):
            for size, repo in repos.items():
                for command in ("doctor", "status"):
                    time.sleep(IDLE + 1)                # the previous run's worker has gone
                    took, done = traces(env, repo, command)
                    if done.returncode != 0:
                        raise SystemExit(f"{command} failed in {size}:\n{done.stdout}{done.stderr}")
                    times[size, command].append(took)
    for command in ("doctor", "status"):
        base = statistics.median(times["1 agent", command])
        for size in repos:
            median = statistics.median(times[size, command])
            figures[f"{command} {size}"] = round(median / base, 2)
            print(f"  traces {command:<7} {size:<9} {median:6.2f} s  ({median / base:.2f}x one agent)")
    return figures


if __name__ == "__main__":
    main()
