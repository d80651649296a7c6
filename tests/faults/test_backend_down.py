"""The team's MLflow server is down while Claude Code works: nothing slows, nothing is lost."""

import os
import subprocess
import sys
import time
import uuid

import pytest
from faultkit import TRACES, Session, hook_env, run_hook, stored, workers
from servers import MlflowServer

import traces

SESSIONS, TURNS = 10, 10          # 100 turns


@pytest.mark.slow
def test_hundred_turns_recorded_while_the_server_is_down(postgres):
    server = MlflowServer(postgres.create_database(f"down_{uuid.uuid4().hex[:10]}"))
    with server:
        experiment = "acme/widgets"
        env = hook_env(MLFLOW_TRACKING_URI=server.url, MLFLOW_EXPERIMENT_NAME=experiment)
        server.stop()

        sessions = [Session(f"sess-down-{i}") for i in range(SESSIONS)]
        durations, most_workers = [], 0
        for _ in range(TURNS):
            for session in sessions:
                done, seconds = run_hook(session.add_turn(), env)
                assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
                durations.append(seconds)
            most_workers = max(most_workers, len(workers(os.environ["TRACES_HOME"])))
        assert len(traces.pending_jobs()) == SESSIONS * TURNS, "a job went missing while the server was down"
        durations.sort()
        assert durations[-1] < 3.0, "a hook waited for the backend"

        server.start()
        started = time.monotonic()
        sync = subprocess.run([sys.executable, TRACES, "sync", "--wait", "150"], env=env, capture_output=True,
                              text=True, timeout=200)
        drain = time.monotonic() - started
        assert sync.returncode == 0, sync.stderr

        found = stored(server.url, experiment)
        turn_ids = {tag for _, tag in found}
        assert len(found) == SESSIONS * TURNS
        assert len(turn_ids) == SESSIONS * TURNS and None not in turn_ids
        assert traces.pending_jobs() == []
        # The workers the hooks started see the empty spool at their next try and exit.
        workers_left = len(workers(os.environ["TRACES_HOME"]))
        print(f"\n[backend down] {SESSIONS * TURNS} hooks while the server was down: "
              f"median {durations[len(durations) // 2] * 1000:.0f} ms, max {durations[-1] * 1000:.0f} ms; "
              f"up to {most_workers} detached worker(s) alive at once; "
              f"drain after restart with `traces sync --wait`: {drain:.1f} s "
              f"({SESSIONS * TURNS / drain:.1f} turns/s); {workers_left} worker(s) still sleeping then")
