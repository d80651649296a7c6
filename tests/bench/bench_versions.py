"""The quick local reader on stores of the oldest MLflow the extra allows and of the test venv's
(the newest that installs), as their users run it: whole commands, under that release's python,
against `python -c pass`, on the store the engine wrote (4 turns) and copied to 10,000 turns.
The reader takes the same path on both, so both scale alike; through the mlflow client for
comparison (3.10.1 has no trace_info columns for session and usage, 3.17 has).

    python tests/bench/bench_versions.py

Stores are cached in tests/bench/.cache/versions-<release>/ (gitignored).
"""
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS.parent), str(TESTS), str(TESTS / "bench")]

import trace_store  # noqa: E402
from bench_search import TOTAL, clone, time_commands  # noqa: E402
from mlflow_versions import OLDEST, mlflow_python, run_script  # noqa: E402

import traces  # noqa: E402

CACHE = TESTS / "bench" / ".cache"
CASES = {"search": ["search"], "search -f json": ["search", "-f", "json"], "report": ["report"], "list": ["list"]}


def stores(release, python):
    """(store of the engine's 4 turns, the same copied to TOTAL turns), written under `python`."""
    folder = CACHE / f"versions-{release}"
    small, large = folder / "mlflow.db", folder / "large.db"
    if not large.exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        run_script(python, "write", str(folder))
        shutil.copy(small, folder / "part.db")
        clone(folder / "part.db", TOTAL, random.Random(4), time.time())
        os.replace(folder / "part.db", large)
    return small, large


def main():
    from importlib.metadata import version
    work = Path(tempfile.mkdtemp(prefix="bench-versions-"))
    repo = trace_store.git_repo(work / "repo")
    (repo / ".claude").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}   # users' bytecode is cached
    env.update(TRACES_HOME=str(work / "traces-home"), PYTHONPATH=str(TESTS.parent))
    figures = {}
    for release, python in ((OLDEST, mlflow_python(OLDEST)), (version("mlflow"), sys.executable)):
        command = [python, "-c", "import sys, traces; sys.exit(traces.main(sys.argv[1:]))"]
        for path in stores(release, python):
            count = sqlite3.connect(path).execute("SELECT COUNT(*) FROM trace_info").fetchone()[0]
            (repo / ".claude" / "traces.json").write_text(json.dumps({"tracking_uri": f"sqlite:///{path}",
                                                                     "experiment": "acme/widgets"}))
            for reader, runs in (("ours", 7), ("mlflow", 3)):
                env[traces.ENV_READER] = reader
                figures.update(time_commands(f"MLflow {release}, {count} traces, {reader} reader", repo, env,
                                             command, CASES if reader == "ours" else {"search": ["search"]}, runs))
    shutil.rmtree(work, ignore_errors=True)
    return figures


if __name__ == "__main__":
    main()
