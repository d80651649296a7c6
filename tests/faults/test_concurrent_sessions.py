"""Eight Claude Code sessions stop at the same moment, three times over, on the local store."""

import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing

import pytest
from faultkit import TRACES, Session, hook_env, local_uri, stored, wait_for, workers

import traces

SESSIONS, ROUNDS, TURNS_PER_ROUND = 8, 3, 2


def stop_together(payloads, env):
    """Start every hook, then hand them their stdin at once, as Claude Code's Stop does."""
    import json
    procs = [subprocess.Popen([sys.executable, TRACES, "hook"], env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in payloads]
    time.sleep(0.3)                       # let them all reach their read of stdin
    started = time.monotonic()
    for proc, payload in zip(procs, payloads, strict=True):
        proc.stdin.write(json.dumps(payload).encode())
        proc.stdin.close()
    results = [(proc.wait(30), proc.stdout.read(), proc.stderr.read()) for proc in procs]
    return results, time.monotonic() - started


@pytest.mark.slow
def test_eight_sessions_stopping_at_once_three_rounds():
    experiment = "acme/widgets"
    env = hook_env(MLFLOW_TRACKING_URI=local_uri(), MLFLOW_EXPERIMENT_NAME=experiment)
    sessions = [Session(f"sess-burst-{i}") for i in range(SESSIONS)]
    expected = SESSIONS * ROUNDS * TURNS_PER_ROUND
    round_times = []
    for _ in range(ROUNDS):
        payloads = []
        for session in sessions:
            for _ in range(TURNS_PER_ROUND):
                payload = session.add_turn()
            payloads.append(payload)
        results, seconds = stop_together(payloads, env)
        assert results == [(0, b"", b"")] * SESSIONS
        round_times.append(seconds)
        # Someone reads the store (`traces search`) while the worker writes it.
        stored(local_uri(), experiment)
        time.sleep(1)

    started = time.monotonic()
    assert wait_for(lambda: not traces.pending_jobs() and not workers(os.environ["TRACES_HOME"]), 120, step=0.5)
    settle = time.monotonic() - started
    turn_ids = [tag for _, tag in stored(local_uri(), experiment)]
    assert sorted(turn_ids) == sorted(set(turn_ids)) and len(turn_ids) == expected

    home = os.environ["TRACES_HOME"]
    with closing(sqlite3.connect(os.path.join(home, "mlflow.db"))) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    log = open(os.path.join(home, "traces.log")).read()
    assert "database is locked" not in log and " ERROR " not in log, log
    assert not [n for n in os.listdir(os.path.join(home, "spool")) if n != ".keep"]
    print(f"\n[concurrent sessions] {ROUNDS} rounds of {SESSIONS} simultaneous Stop hooks: all hooks of a "
          f"round done in {', '.join(f'{t * 1000:.0f}' for t in round_times)} ms; {expected} turns traced once "
          f"each, spool empty {settle:.1f} s after the last round; integrity_check ok; no lock errors")
