"""Helpers shared by the tests (a plain module: conftest.py files are for fixtures)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
FIXTURES = TESTS / "fixtures"
RECORDED = FIXTURES / "cc-2.1.330"


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def read_settings(repo_path, local=False):
    name = "settings.local.json" if local else "settings.json"
    return json.loads((Path(repo_path) / ".claude" / name).read_text())


def committed_hook(repo_path, event="Stop"):
    """The hook command init committed for an event (in .claude/settings.json)."""
    groups = read_settings(repo_path)["hooks"][event]
    [command] = [h["command"] for g in groups for h in g["hooks"] if "traces" in h["command"]]
    return command


def read_config(repo_path, local=False):
    """Our own config file: .claude/traces.json (the team's) or traces.local.json (this machine's)."""
    name = "traces.local.json" if local else "traces.json"
    return json.loads((Path(repo_path) / ".claude" / name).read_text())


def traces_cli(*args, input=None, env=None, cwd=None):
    """Run traces as a separate process, the way Claude Code and users do."""
    return subprocess.run([sys.executable, str(ROOT / "traces.py"), *args], input=input, env=env,
                          cwd=cwd, capture_output=True, text=isinstance(input, str) or input is None)


TOKEN_FIELDS = {"input": "inputTokens", "output": "outputTokens",
                "cache_read": "cacheReadInputTokens", "cache_creation": "cacheCreationInputTokens"}


def ledger_totals(paths):
    """Claude Code's own token totals: the last cost-state entry of each transcript, summed
    (interactive sessions write cost-state only when they end: /clear, /exit)."""
    totals = dict.fromkeys(TOKEN_FIELDS, 0)
    for path in paths:
        states = [json.loads(line) for line in open(path) if '"type":"cost-state"' in line]
        assert states, f"no cost-state in {path}"
        for usage in states[-1]["modelUsage"].values():
            for key, field in TOKEN_FIELDS.items():
                totals[key] += usage[field]
    return totals


def traced_totals(found):
    """The same totals from the traces' tokens.* tags."""
    return {key: sum(int(t.info.tags.get(f"tokens.{key}", 0)) for t in found) for key in TOKEN_FIELDS}


def check_ledger(scenario, found, paths):
    """Assert the traces add up to the ledger, and print both (pytest -s) for the record."""
    ours, theirs = traced_totals(found), ledger_totals(paths)
    print(f"\n[ledger] {scenario}: {len(found)} trace(s); tokens ours {ours} / cost-state {theirs}")
    assert ours == theirs


def stored(repo):
    """(a client of the local store, the repository's traces oldest first)."""
    import mlflow

    import traces
    client = mlflow.MlflowClient("sqlite:///" + os.path.join(os.environ["TRACES_HOME"], "mlflow.db"))
    experiment = client.get_experiment_by_name(traces.default_experiment_name(str(repo)))
    found = client.search_traces(locations=[experiment.experiment_id], max_results=50) if experiment else []
    return client, sorted(found, key=lambda t: t.info.request_time)


def synced(repo, expected):
    """The hooks record in the background after an agent exits: sync until the traces are there
    (bounded), then once more, which must add nothing."""
    import traces
    deadline = time.time() + 30
    while True:
        assert traces.main(["sync", "--wait", "60"]) == 0
        client, found = stored(repo)
        if len(found) >= expected or time.time() > deadline:
            break
        time.sleep(0.5)
    time.sleep(1)
    assert traces.main(["sync", "--wait", "60"]) == 0
    return stored(repo)
