"""Every command in a broken environment, run the way users run it (a process of its own, so
that a traceback would show): it either fails with one `Error:` line and changes nothing, or
does what it can and says so, exit 0. Never a traceback."""

import http.server
import os
import shutil
import socket
import stat
import threading
from pathlib import Path

import pytest
from helpers import traces_cli
from transcripts import Transcript

COMMANDS = {
    "init": ["init", "--local", "--yes"],
    "status": ["status"],
    "disable": ["disable"],
    "search": ["search"],
    "list": ["list"],
    "report": ["report"],
    "show": ["show", "--session", "sess-broken"],
    "blame": ["blame", "README.md"],
    "import": ["import", "TRANSCRIPT"],
    "sync": ["sync"],
    "enrichment": ["enrichment", "list"],
    "redact": ["redact", "list"],
    # Never blocks here: no environment below has both mlflow and a readable local store.
    "ui": ["ui", "--no-browser"],
}

# The commands that do their job in each environment (exit 0); every other one must fail.
# status reports what is wrong and exits 0; disable has nothing to undo in a fresh repository;
# sync has an empty spool; enrichment and redact read only the repository's settings.
SUCCEEDS = {
    "no-mlflow": {"init", "status", "disable", "search", "list", "report", "show", "blame", "sync", "enrichment", "redact"},
    "home-is-a-file": {"status", "disable", "enrichment", "redact"},
    "store-is-a-folder": {"status", "disable", "sync", "enrichment", "redact"},
    "store-is-garbage": {"status", "disable", "sync", "enrichment", "redact"},
    "settings-not-json": {"status", "sync"},
    "local-settings-not-json": {"status", "sync"},
    "config-not-json": {"status", "sync"},
    "server-unreachable": {"status", "disable", "sync", "enrichment", "redact"},
    "server-not-mlflow": {"status", "disable", "sync", "enrichment", "redact"},
}

# Where a failure may write: the log that holds the traceback (traces.log), and the MLflow
# UI's own log. Everything else in the repository, HOME and TRACES_HOME must stay as it was.
LOGS = {"traces.log", "traces.log.1", "ui.log"}


def snapshot(*roots):
    """Every path under roots (but .git and the logs) with its mode and content."""
    found = {}
    for root in map(Path, roots):
        paths = [root] + (sorted(root.rglob("*")) if root.is_dir() else [])
        for path in paths:
            if ".git" in path.relative_to(root).parts or path.name in LOGS:
                continue
            info = path.lstat()
            content = path.read_bytes() if stat.S_ISREG(info.st_mode) else None
            found[str(path)] = (stat.S_IMODE(info.st_mode), stat.S_IFMT(info.st_mode), content)
    return found


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A local store holding one traced turn, made once by `traces import` in a sound setup."""
    base = tmp_path_factory.mktemp("store")
    transcript = finished_turn(base)
    env = {**os.environ, "HOME": str(base), "TRACES_HOME": str(base / "traces-home")}
    (base / ".claude").mkdir()
    (base / ".claude/traces.json").write_text('{"experiment": "claude-code"}\n')
    done = traces_cli("import", str(transcript), env=env, cwd=base)
    assert done.returncode == 0, done.stderr
    return base / "traces-home" / "mlflow.db"


def finished_turn(folder):
    t = Transcript(session="sess-broken", cwd=str(folder))
    t.prompt("What is in this folder?")
    t.text("Nothing yet.")
    return Path(t.write(str(folder / "transcripts")))


class NotMlflow(http.server.BaseHTTPRequestHandler):
    """A web server that is not MLflow: an HTML 404 for every request."""

    def answer(self):
        body = b"<html><body><h1>404 Not Found</h1></body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = answer

    def log_message(self, *args):
        pass


@pytest.fixture
def web_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotMlflow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_at(repo, uri):
    (repo / ".claude").mkdir(exist_ok=True)
    (repo / ".claude/traces.json").write_text(f'{{"tracking_uri": "{uri}"}}\n')
    return ["init", "--tracking-uri", uri, "--yes"]


def break_environment(name, repo, tmp_path, store, request):
    """Set up one broken environment; return (extra environment variables, init's arguments)."""
    home = Path(os.environ["TRACES_HOME"])
    home.mkdir()
    home.chmod(0o700)       # as traces makes it
    extra, init = {}, COMMANDS["init"]
    if name == "no-mlflow":
        fake = tmp_path / "no-mlflow" / "mlflow"
        fake.mkdir(parents=True)
        (fake / "__init__.py").write_text("raise ImportError(\"No module named 'mlflow'\")\n")
        extra["PYTHONPATH"] = str(fake.parent)
        shutil.copy(store, home / "mlflow.db")
        # The experiment the store holds: search finds its turn, ui gets as far as starting MLflow.
        (repo / ".claude").mkdir()
        (repo / ".claude/traces.json").write_text('{"experiment": "claude-code"}\n')
    elif name == "home-is-a-file":
        home.rmdir()
        home.write_text("not a folder\n")
    elif name == "store-is-a-folder":
        (home / "mlflow.db").mkdir()
    elif name == "store-is-garbage":
        (home / "mlflow.db").write_bytes(b"this is no SQLite database\n" * 100)
    elif name.endswith("-not-json"):
        which = {"settings": "settings.json", "local-settings": "settings.local.json", "config": "traces.json"}
        (repo / ".claude").mkdir()
        (repo / ".claude" / which[name[:-len("-not-json")]]).write_text("{not json\n")
    elif name == "server-unreachable":
        init = server_at(repo, f"http://127.0.0.1:{closed_port()}")
    elif name == "server-not-mlflow":
        init = server_at(repo, request.getfixturevalue("web_server"))
    return extra, init


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("environment", list(SUCCEEDS))
def test_a_broken_environment_gets_one_error_line_and_no_change(environment, command, repo, tmp_path, store,
                                                                 request):
    extra, init = break_environment(environment, repo, tmp_path, store, request)
    transcript = finished_turn(tmp_path)
    argv = [str(transcript) if a == "TRANSCRIPT" else a for a in (init if command == "init" else COMMANDS[command])]
    roots = (repo, os.environ["HOME"], os.environ["TRACES_HOME"])
    before = snapshot(*roots)
    done = traces_cli(*argv, env={**os.environ, **extra}, cwd=repo)
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    if command in SUCCEEDS[environment]:
        assert done.returncode == 0, output
        return
    assert done.returncode == 1, output
    errors = done.stderr.splitlines()
    assert len(errors) == 1 and errors[0].startswith("Error: "), done.stderr
    assert snapshot(*roots) == before


def test_an_unexpected_failure_is_one_line_with_the_log_holding_the_traceback(repo, monkeypatch, capsys):
    import traces

    def boom(root):
        raise RuntimeError("the unexpected\nsecond line")
    monkeypatch.setattr(traces, "repo_status", boom)
    assert traces.main(["status"]) == 1
    log = Path(os.environ["TRACES_HOME"]) / "traces.log"
    assert capsys.readouterr().err == f"Error: RuntimeError: the unexpected; details in {log}\n"
    assert "Traceback" in log.read_text() and "boom" in log.read_text()


def test_an_unexpected_failure_with_no_place_for_the_log_is_still_one_line(repo, monkeypatch, capsys):
    import traces
    home = Path(os.environ["TRACES_HOME"])
    home.write_text("in the way\n")
    monkeypatch.setattr(traces, "repo_status", lambda root: 1 / 0)
    assert traces.main(["status"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ZeroDivisionError: division by zero; no details: the log in ") and err.count("\n") == 1


@pytest.mark.parametrize("environment", list(SUCCEEDS))
def test_doctor_reports_a_broken_environment_without_a_traceback_or_a_change(environment, repo, tmp_path, store,
                                                                              request):
    """doctor's job is to report: a FAIL line each (here at least the settings: nothing is
    wired), exit 1, and it leaves everything as it found it."""
    extra, _ = break_environment(environment, repo, tmp_path, store, request)
    roots = (repo, os.environ["HOME"], os.environ["TRACES_HOME"])
    before = snapshot(*roots)
    done = traces_cli("doctor", env={**os.environ, **extra}, cwd=repo)
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    assert done.returncode == 1, output
    assert any(line.startswith("FAIL") for line in done.stdout.splitlines()), output
    assert snapshot(*roots) == before
