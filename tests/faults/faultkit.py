"""Helpers for the fault suite: Claude-Code-shaped turns and hook calls, the store, workers.

Every hook here is a real `traces hook` process fed the JSON Claude Code 2.1.330 writes on its
stdin, with transcripts where Claude Code keeps them ($HOME/.claude/projects/...).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from transcripts import Transcript

import traces

TRACES = str(Path(__file__).resolve().parents[2] / "traces.py")


def projects():
    return os.path.join(os.environ["HOME"], ".claude", "projects")


def local_uri():
    return "sqlite:///" + os.path.join(os.environ["TRACES_HOME"], "mlflow.db")


class Session:
    """One Claude Code session whose transcript grows a turn at a time."""

    def __init__(self, name, cwd="/work/project"):
        self.transcript = Transcript(session=name, cwd=cwd)
        self.name, self.cwd, self.turns = name, cwd, 0
        self.path = None

    def add_turn(self):
        """Append one finished turn (prompt, a tool call and its result, the answer) and write it."""
        n, t = self.turns, self.transcript
        t.prompt(f"{self.name} task {n}")
        tool = t.tool("Bash", {"command": f"echo {n}"})
        t.result(tool, str(n))
        t.text(f"{self.name} done {n}")
        self.turns += 1
        self.path = t.write(projects())
        return self.stop_input()

    def stop_input(self, event="Stop"):
        payload = {"session_id": self.name, "transcript_path": self.path, "cwd": self.cwd,
                   "prompt_id": f"p-{self.turns}", "permission_mode": "default", "hook_event_name": event}
        if event == "Stop":
            payload.update(stop_hook_active=False, last_assistant_message=f"{self.name} done {self.turns - 1}")
        else:
            payload["reason"] = "other"
        return payload


def hook_env(**extra):
    """The environment Claude Code gives a hook, for a project wired with these settings:
    those of ours go into the project's .claude/traces.local.json (as init writes them), the
    rest (TRACES_HOME, MLflow's HTTP knobs) into the environment."""
    ours = {k: v for k, v in extra.items() if k in traces.CONFIG_KEYS.values() and k != "TRACES_HOME"}
    project = Path(os.environ["HOME"]) / f"project-{len(ours)}-{abs(hash(tuple(sorted(ours.items()))))}"
    (project / ".claude").mkdir(parents=True, exist_ok=True)
    config = {}
    traces.update_config(config, ours)
    (project / ".claude" / "traces.local.json").write_text(json.dumps(config))
    rest = {k: v for k, v in extra.items() if k not in ours}
    return {**os.environ, "CLAUDE_PROJECT_DIR": str(project), **rest}


def run_hook(payload, env):
    """Run `traces hook` once; (completed process, seconds it took)."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    started = time.monotonic()
    done = subprocess.run([sys.executable, TRACES, "hook"], input=data, env=env, capture_output=True, timeout=60)
    return done, time.monotonic() - started


def stored(uri, experiment):
    """The traces in an experiment: [(trace_id, turn tag)]."""
    # open_store: a reader must not create a SQLite store's tables while a worker does.
    client = traces.open_store(uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    out, token = [], None
    while True:
        page = client.search_traces(locations=[found.experiment_id], max_results=200, page_token=token,
                                    include_spans=False)
        out += [(t.info.trace_id, t.info.tags.get(traces.TAG_TURN)) for t in page]
        token = page.token
        if not token:
            return out


def wait_for(condition, timeout, step=0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def our_processes(traces_home):
    """Pids of live processes started with this TRACES_HOME (the detached workers of a test)."""
    mark = f"TRACES_HOME={traces_home}".encode()
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                environ = f.read().split(b"\0")
            with open(f"/proc/{name}/stat", "rb") as f:
                zombie = f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
        except OSError:
            continue
        if mark in environ and not zombie:
            pids.append(int(name))
    return pids


def workers(traces_home):
    """Live `traces sync` processes of this TRACES_HOME."""
    found = []
    for pid in our_processes(traces_home):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"sync" in f.read().split(b"\0"):
                    found.append(pid)
        except OSError:
            pass
    return found


def kill(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def cli(*args, env, cwd=None):
    """Run `traces ARGS...` as its own process; text output."""
    return subprocess.run([sys.executable, TRACES, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=120)
