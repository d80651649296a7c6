"""A backend that accepts connections and never answers: the hook does not notice, the worker
times out and keeps the job, and a good server on the same address gets the turn."""

import socket
import threading
import time

import pytest
from faultkit import Session, cli, hook_env, run_hook, stored, wait_for
from servers import MlflowServer, free_port

import traces


class Silent:
    """Accepts every connection on 127.0.0.1:port and never says a word."""

    def __init__(self, port):
        self.sock = socket.create_server(("127.0.0.1", port))
        self.held, self.open = [], True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while self.open:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self):
        self.open = False
        try:
            self.sock.shutdown(socket.SHUT_RDWR)      # wakes the accept() blocked in the thread
        except OSError:
            pass
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.mark.slow
def test_a_backend_that_never_answers(tmp_path):
    port = free_port()
    silent = Silent(port)
    try:
        # traces sets MLFLOW_HTTP_REQUEST_TIMEOUT=20 unless told; 3 keeps the test short.
        env = hook_env(MLFLOW_TRACKING_URI=f"http://127.0.0.1:{port}", MLFLOW_EXPERIMENT_NAME="acme/widgets",
                       MLFLOW_HTTP_REQUEST_TIMEOUT="3")
        session = Session("sess-slow-1")
        done, hook_seconds = run_hook(session.add_turn(), env)
        assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
        assert hook_seconds < 2.0

        started = time.monotonic()
        sync = cli("sync", "--wait", "5", env=env)
        gave_up = time.monotonic() - started
        assert sync.returncode == 1 and sync.stderr.startswith("Error: 1 job(s) are still waiting"), sync.stderr
        # The detached worker the hook started may be the one waiting on the backend: its error
        # reaches the log when its request times out.
        assert wait_for(lambda: f"127.0.0.1:{port}" in (traces.last_error() or ""), 30), traces.last_error()
        assert len(traces.pending_jobs()) == 1
        assert silent.held, "the worker never reached the silent backend"
    finally:
        silent.close()

    error = traces.last_error()
    with MlflowServer(port=port) as server:
        started = time.monotonic()
        sync = cli("sync", "--wait", "60", env=env)
        recovered = time.monotonic() - started
        assert sync.returncode == 0, sync.stderr
        [(_, turn_id)] = stored(server.url, "acme/widgets")
        assert turn_id.startswith("sess-slow-1:")
    assert traces.pending_jobs() == []
    print(f"\n[slow backend] hook {hook_seconds * 1000:.0f} ms against a silent server; `traces sync --wait 5` "
          f"gave up after {gave_up:.1f} s (request timeout 3 s) keeping the job; with a good server on the "
          f"same port it uploaded in {recovered:.1f} s; logged: {error.split(' ERROR ', 1)[1][:300]}")
