"""How fast `traces show` replays a long turn: a generated Claude Code turn of 200 steps (tool
calls: Bash, Edit, Read, Grep, Write in turn, each with its result, a text every tenth),
imported by the real `traces import` into a local store, then `traces show` on it timed as a
whole command from outside against `python -c pass` and `traces search` on the same store,
interleaved, and against `traces search -f json` of the same turn (its spans printed as they
are). Turns of 20 and 2,000 steps in the same store say how the cost grows.

    python tests/bench/bench_show.py
"""
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parents[1]), str(BENCH.parent), str(BENCH)]

import bench_search  # noqa: E402
import trace_store  # noqa: E402
from transcripts import Transcript  # noqa: E402

STEPS = (20, 200, 2000)


def long_turn(steps, cwd):
    """One session of one turn with `steps` tool calls, as Claude Code 2.1.330 writes it."""
    t = Transcript(session=f"00000000-0000-4000-8000-{steps:012d}", cwd=str(cwd))
    t.prompt(f"Refactor the widgets module ({steps} steps).")
    for n in range(steps):
        text = f"Step {n}: looking at the next part." if n % 10 == 0 else None
        kind = n % 5
        if kind == 0:
            call = t.tool("Bash", {"command": f"pytest -q tests/test_{n}.py", "description": "Run a test"}, text=text)
            t.result(call, "\n".join(f"tests/test_{n}.py::test_{i} PASSED" for i in range(12)))
        elif kind == 1:
            call = t.tool("Edit", {"file_path": f"{cwd}/widgets/part_{n}.py", "old_string": f"def old_{n}():\n    pass\n",
                                   "new_string": f"def new_{n}():\n    return {n}\n"}, text=text)
            t.result(call, f"The file {cwd}/widgets/part_{n}.py has been updated successfully.")
        elif kind == 2:
            call = t.tool("Read", {"file_path": f"{cwd}/widgets/part_{n}.py"}, text=text)
            t.result(call, "\n".join(f"{i}\tline {i} of part {n}" for i in range(1, 41)))
        elif kind == 3:
            call = t.tool("Grep", {"pattern": f"old_{n}", "path": str(cwd)}, text=text)
            t.result(call, "Found 3 files\nwidgets/a.py\nwidgets/b.py\nwidgets/c.py", is_error=n % 15 == 3)
        else:
            call = t.tool("Write", {"file_path": f"{cwd}/widgets/new_{n}.py",
                                    "content": "".join(f"x_{i} = {i}\n" for i in range(30))}, text=text)
            t.result(call, f"File created successfully at: {cwd}/widgets/new_{n}.py")
    t.text("Done: the widgets module is refactored.")
    return t


def main(runs=9):
    work = Path(tempfile.mkdtemp(prefix="bench-show-"))
    repo = trace_store.git_repo(work / "repo")
    (repo / ".claude").mkdir()
    uri = f"sqlite:///{work / 'mlflow.db'}"
    (repo / ".claude" / "traces.json").write_text(json.dumps({"tracking_uri": uri, "experiment": "acme/widgets"}))
    # This copy of traces.py as an installed command runs it: imported, its bytecode cached
    # (run as a script, Python compiles its 9,000 lines every time: 50 to 170 ms).
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "TRACES_HOME": str(work / "traces-home"),
           "PYTHONPATH": str(BENCH.parents[1])}
    command = [sys.executable, "-c", "import sys, traces; sys.exit(traces.main(sys.argv[1:]))"]
    paths = [long_turn(steps, repo).write(str(work / "projects")) for steps in STEPS]
    done = subprocess.run(command + ["import", *paths], cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    found = json.loads(subprocess.run(command + ["search", "-f", "json", "-l", "0"], cwd=repo, env=env,
                                      capture_output=True, text=True, check=True).stdout)["traces"]
    ids = {sum(s["type"] == "TOOL" for s in t["spans"]): t["trace_id"] for t in found}
    assert sorted(ids) == list(STEPS), sorted(ids)
    shown = subprocess.run(command + ["show", ids[200]], cwd=repo, env=env, capture_output=True, text=True).stdout
    assert shown.count("\n▸ ") == 200, shown[-2000:]
    # `search -f json` of the same turn: its spans read and printed as they are, nothing replayed.
    cases = {"search": ["search"], "search -f json (200)": ["search", "-f", "json", "--trace-id", ids[200]]}
    for steps in STEPS:
        cases[f"show ({steps} steps)"] = ["show", ids[steps]]
    cases["show -f markdown (200)"] = ["show", ids[200], "-f", "markdown"]
    cases["show -f json (200)"] = ["show", ids[200], "-f", "json"]
    cases["show --full (200)"] = ["show", ids[200], "--full"]
    figures = bench_search.time_commands("3 turns of 20, 200, 2,000 steps", repo, env, command, cases, runs)
    label = "3 turns of 20, 200, 2,000 steps"
    print(f"  show (200 steps) against search: {figures[f'{label} show (200 steps)'] / figures[f'{label} search']:.2f}x")
    shutil.rmtree(work, ignore_errors=True)
    return figures


if __name__ == "__main__":
    main()
