"""`traces blame` on a file of many lines written by many traced turns, against `git blame` of
the same file and `python -c pass`, whole commands timed from outside, at growing sizes.

Each size is a git repository whose file a human committed, then one Claude Code session of
TURNS turns, each an Edit of a block of ten lines (every turn's block another), committed every
20 turns (the last ones not), imported into a local store of its own. Built in a temporary
folder each run (a few seconds per size).

    python tests/bench/bench_blame.py [LINES:TURNS ...]      (default 500:50 2000:200 4000:400)
"""
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
sys.path[:0] = [str(ROOT), str(TESTS)]

from transcripts import START, Transcript  # noqa: E402

T0 = START.timestamp()
SIZES = ((500, 50), (2000, 200), (4000, 400))
BLOCK = 10


def git(repo, *args, at=None):
    env = dict(os.environ)
    if at is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{int(T0 + at)} +0000"
    subprocess.run(["git", "-c", "user.name=Bench", "-c", "user.email=bench@example.com", *args], cwd=repo,
                   env=env, check=True, capture_output=True)


def build(folder, lines, turns):
    """(repository, environment) for one size: the file, its history and the store."""
    repo = folder / "repo"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "remote", "add", "origin", "git@github.com:acme/bench.git")
    (repo / ".claude").mkdir()
    (repo / ".claude" / "traces.json").write_text(json.dumps({"experiment": "bench/blame"}))
    path = repo / "big.py"
    text = [f"value_{i} = {i}" if i % BLOCK else "" for i in range(lines)]
    path.write_text("\n".join(text) + "\n")
    git(repo, "add", "big.py")
    git(repo, "commit", "-qm", "the human's file", at=-1000)
    session = Transcript(session="bench-blame", cwd=str(repo))
    for turn in range(turns):
        session.clock = itertools.count(turn * 10)
        session.prompt(f"turn {turn}: change block {turn % (lines // BLOCK)}")
        first = (turn * BLOCK) % lines + 1        # a block's blank line stays
        old = text[first:first + BLOCK - 1]
        new = [f"value_{first + k} = {first + k} + {turn}" for k in range(len(old))]
        tool = session.tool("Edit", {"file_path": str(path), "old_string": "\n".join(old),
                                     "new_string": "\n".join(new)})
        session.result(tool, "edited")
        session.text("done")
        text[first:first + BLOCK - 1] = new
        if turn % 20 == 19 and turn < turns - 10:
            path.write_text("\n".join(text) + "\n")
            git(repo, "commit", "-qam", f"turns to {turn}", at=turn * 10 + 5)
    path.write_text("\n".join(text) + "\n")
    env = {**os.environ, "TRACES_HOME": str(folder / "traces-home"), "HOME": str(folder)}
    transcript = session.write(str(folder / "projects"))
    subprocess.run([sys.executable, str(ROOT / "traces.py"), "import", transcript], cwd=repo, env=env,
                   check=True, capture_output=True)
    return repo, env


def timed(commands, cwd, env, runs):
    """Median wall time (ms) of each command, run in turn so noise hits them alike."""
    times = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def main(sizes=SIZES, runs=7):
    work = Path(tempfile.mkdtemp(prefix="traces-bench-blame-"))
    try:
        for lines, turns in sizes:
            started = time.time()
            repo, env = build(work / f"{lines}-{turns}", lines, turns)
            blame = [sys.executable, str(ROOT / "traces.py"), "blame", "big.py"]
            done = subprocess.run(blame + ["--json"], cwd=repo, env=env, capture_output=True, text=True, check=True)
            summary = json.loads(done.stdout)["summary"]
            got = timed({"python -c pass": [sys.executable, "-c", "pass"], "git blame": ["git", "blame", "big.py"],
                         "traces blame": blame}, repo, env, runs)
            print(f"  {lines} lines, {turns} turns (built in {time.time() - started:.0f} s; "
                  f"{summary['attributed']} lines attributed, {summary['unattributed']} not):")
            for name, ms in got.items():
                print(f"    {name:<16} {ms:7.1f} ms  ({ms / got['git blame']:.1f}x git blame, "
                      f"{ms / got['python -c pass']:.1f}x python -c pass)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main([tuple(int(n) for n in size.split(":")) for size in sys.argv[1:]] or SIZES)
