"""Other MLflow releases than the test venv's, each in an environment of its own made by uv, to
write stores and serve them as that release's users would, and to read them with its client.

The extra allows mlflow>=3.10,<4: the test venv has the newest that installs (make deps
resolves it; test_search.py checks it), OLDEST is the other end. Environments are kept in
.cache/mlflow/<version> and uv's downloads in .cache/uv, so a second run takes no network
and about a second; a first run that cannot reach the package index fails, never skips.

Run as a script inside such an environment (sys.path then holds the checkout and tests/):

    python tests/mlflow_versions.py write FOLDER [URI]   fill a store (or the server at URI) as
                                                         test_search does, then read it as `read`
                                                         does from FOLDER/repo, set up to read it
    python tests/mlflow_versions.py read [--scan]        run READS in the current directory's
                                                         repository; print JSON of what they printed
"""

import contextlib
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
CACHE = ROOT / ".cache"
OLDEST = "3.10.1"       # the oldest minor release the extra allows, at its last patch

HOUR = 3600
# (experiment, session, when the session ended (seconds ago), branch, prompt label)
PLAN = [
    ("acme/widgets", "aaaaaaaa-0000-4000-8000-000000000001", 1 * HOUR, "main", "newest"),
    ("acme/widgets", "bbbbbbbb-0000-4000-8000-000000000002", 30 * HOUR, "feature-x", "yesterday"),
    ("acme/widgets", "cccccccc-0000-4000-8000-000000000003", 10 * 24 * HOUR, "main", "old"),
    ("acme/other", "dddddddd-0000-4000-8000-000000000004", 2 * HOUR, "main", "elsewhere"),
]
# Every filter the readers pass to the store, every format, the report by several keys.
READS = [
    ["search"], ["search", "-l", "0", "--all"], ["search", "--branch", "feature-x"], ["search", "--tool", "Bash"],
    ["search", "--status", "error"], ["search", "--session", "bbbb"], ["search", "--hours", "48"],
    ["search", "--file", "notes.txt"], ["search", "-e", "acme/other"], ["search", "-f", "json", "-l", "0", "--all"],
    ["search", "-f", "context", "-l", "0"], ["search", "-f", "tools", "-l", "0"], ["report", "--json"],
    ["report", "--by", "session", "--json"], ["report", "--by", "model"], ["report", "--by", "user", "--json"],
    ["report", "--by", "block", "--until", "1d", "--breakdown", "--json"], ["list"],
]


def mlflow_python(version):
    """The python of an environment holding mlflow==version (made, or checked, by uv)."""
    env = CACHE / "mlflow" / version
    python = env / "bin" / "python"
    uv_env = {**os.environ, "UV_CACHE_DIR": str(CACHE / "uv")}

    def uv(*args):
        done = subprocess.run([sys.executable, "-m", "uv", *args], capture_output=True, text=True, env=uv_env)
        if done.returncode:
            raise RuntimeError(f"uv {' '.join(args)} failed (is the package index reachable?):\n{done.stderr}")

    if not python.exists():
        uv("venv", "-q", "--python", sys.executable, str(env))
    uv("pip", "install", "-q", "--python", str(python), f"mlflow=={version}")
    return str(python)


def run_script(python, *args, cwd=None, reader=None):
    """This file run as a script by `python`; what it printed. reader=mlflow: read through the mlflow client."""
    env = {k: v for k, v in os.environ.items() if k != "CLAUDETRACING_READER"}
    env.update({"PYTHONPATH": f"{ROOT}{os.pathsep}{TESTS}", **({"CLAUDETRACING_READER": reader} if reader else {})})
    done = subprocess.run([python, __file__, *args], cwd=cwd, capture_output=True, text=True, env=env)
    if done.returncode:
        raise AssertionError(f"{python} {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def configure(repo, uri):
    """A repository whose settings read the store at uri, as init writes them."""
    (Path(repo) / ".claude").mkdir(parents=True, exist_ok=True)
    (Path(repo) / ".claude" / "traces.json").write_text(json.dumps({"tracking_uri": uri, "experiment": "acme/widgets"}))


def write(folder, uri=None):
    """Fill, then read in the same process: one mlflow import, not two."""
    import trace_store
    now = time.time()
    uri = trace_store.fill(folder, [(e, s, now - ago, b, label) for e, s, ago, b, label in PLAN], uri=uri)
    configure(Path(folder) / "repo", uri)
    os.chdir(Path(folder) / "repo")
    read()


def read(scan=False):
    """What each of READS prints (exit code, stdout, stderr), and whether mlflow was imported."""
    import traces
    if scan:        # the report's one pass over the tag tables, which the bench's 10,000 traces take
        traces.LocalStore.scan_from = 0
    outputs = []
    for argv in READS:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = traces.main(argv)
        outputs.append([code, out.getvalue(), err.getvalue()])
    print(json.dumps({"outputs": outputs, "mlflow": "mlflow" in sys.modules}))


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(*sys.argv[2:])
    else:
        read(scan="--scan" in sys.argv)
