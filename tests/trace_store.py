"""A real MLflow store filled by the engine from recorded Claude Code transcripts.

The reading commands (list, search, report, ui) are tested and benchmarked against what the
engine really writes. Recorded sessions are varied in memory (session id, times, branch,
working directory, prompt text) so one recording yields many distinct turns.
"""

import json
import os
import re
import subprocess
import time
from pathlib import Path

from helpers import RECORDED

import traces

SESSION_FILE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.jsonl")


# The recordings the reading stores are built from (the others show capture's edge cases).
STORE_SOURCES = ("main", "resume", "secret", "midturn")


def recorded_sessions():
    """Session transcripts in fixtures/cc-2.1.330 (named by session id; subagents lie beside them)."""
    if not RECORDED.is_dir():
        return []
    return sorted(p for name in STORE_SOURCES for p in (RECORDED / name).glob("*.jsonl") if SESSION_FILE.fullmatch(p.name))


def git_repo(path, branch="main"):
    path.mkdir(parents=True, exist_ok=True)
    for args in (["init", "-q", "-b", branch], ["remote", "add", "origin", "git@github.com:acme/widgets.git"],
                 ["-c", "user.email=t@example.com", "-c", "user.name=T", "commit", "-q", "--allow-empty", "-m", "x"]):
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True)
    return path


def original_cwd(lines):
    return next((r["cwd"] for r in lines if isinstance(r.get("cwd"), str) and r["cwd"]), None)


def load(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def shifted(stamp, delta):
    when = traces.parse_time(stamp, None)
    if when is None:
        return stamp
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when + delta)) + f".{int((when % 1) * 1000):03d}Z"


def rewrite(record, session, delta, branch, old_cwd, new_cwd, label):
    """One transcript line as if it came from another session, time, branch and checkout."""
    text = json.dumps(record)
    if old_cwd:
        text = text.replace(old_cwd, new_cwd)
    record = json.loads(text)
    if "sessionId" in record:
        record["sessionId"] = session
    if "timestamp" in record:
        record["timestamp"] = shifted(record["timestamp"], delta)
    if "gitBranch" in record:
        record["gitBranch"] = branch
    if label and traces.is_prompt(record) and isinstance(record["message"].get("content"), str):
        record["message"]["content"] = f"[{label}] " + record["message"]["content"]
    return record


def write_variant(source, folder, session, end_at, branch, cwd, label):
    """Copy a recorded session (and its subagents) under a new id, ending at `end_at`."""
    lines = load(source)
    old_cwd = original_cwd(lines)
    last = max(traces.parse_time(r.get("timestamp"), 0) for r in lines)
    delta = end_at - last
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{session}.jsonl"
    target.write_text("".join(json.dumps(rewrite(r, session, delta, branch, old_cwd, str(cwd), label)) + "\n"
                              for r in lines))
    agents = source.with_suffix("") / "subagents"
    if agents.is_dir():
        out = folder / session / "subagents"
        out.mkdir(parents=True, exist_ok=True)
        for item in agents.iterdir():
            if item.suffix == ".jsonl":
                (out / item.name).write_text("".join(
                    json.dumps(rewrite(r, session, delta, branch, old_cwd, str(cwd), None)) + "\n"
                    for r in load(item)))
            else:
                (out / item.name).write_bytes(item.read_bytes())
    return target


def fill(store_dir, plan, uri=None):
    """Trace each planned variant with the engine: plan = [(experiment, session, end_at, branch, label)].

    Returns the store's tracking URI (a SQLite store in store_dir unless `uri` names a server).
    HOME and TRACES_HOME point into store_dir meanwhile.
    """
    store_dir = Path(store_dir)
    uri = uri or f"sqlite:///{store_dir / 'mlflow.db'}"
    saved = {k: os.environ.get(k) for k in ("HOME", "TRACES_HOME", "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME")}
    os.environ["HOME"] = str(store_dir / "home")
    os.environ["TRACES_HOME"] = str(store_dir / "traces-home")
    cwd = os.getcwd()
    os.chdir(store_dir)
    try:
        repo = git_repo(store_dir / "repo") if not (store_dir / "repo").exists() else store_dir / "repo"
        uploaders = {}
        sources = recorded_sessions()
        for n, (experiment, session, end_at, branch, label) in enumerate(plan):
            source = sources[n % len(sources)]
            path = write_variant(source, store_dir / "transcripts", session, end_at, branch, repo, label)
            env = {"MLFLOW_TRACKING_URI": uri, "MLFLOW_EXPERIMENT_NAME": experiment}
            if experiment not in uploaders:
                uploaders[experiment] = traces.Uploader(env)
            traces.trace_session(session, str(path), uploaders[experiment], final=True,
                                 context={"cwd": str(repo), "env": env})
            path.unlink()
    finally:
        os.chdir(cwd)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return uri
