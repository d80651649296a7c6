"""traces doctor: each check names what is wrong and the command that fixes it; the round
trip sends a test turn through the real hook command and worker, and takes it away again."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from helpers import read_config, read_settings

import traces


def init():
    assert traces.main(["init", "--local", "--yes"]) == 0


def doctor(capsys, *extra):
    rc = traces.main(["doctor", *extra])
    return rc, capsys.readouterr().out


def line(out, check):
    [found] = [row for row in out.splitlines() if row.split()[1:2] == [check]]
    return found


def write_json(path, data):
    path.write_text(json.dumps(data, indent=2) + "\n")


def store_traces():
    import mlflow
    client = mlflow.MlflowClient("sqlite:///" + os.path.join(os.environ["TRACES_HOME"], "mlflow.db"))
    return [t for e in client.search_experiments() for t in client.search_traces(locations=[e.experiment_id])]


def test_a_healthy_repository_passes_and_the_test_turn_is_removed(repo, capsys):
    init()
    capsys.readouterr()
    rc, out = doctor(capsys)
    assert rc == 0, out
    assert [row.split()[:2] for row in out.splitlines()] == [
        ["ok", name] for name in ("settings", "hook", "mlflow", "backend", "spool", "env", "roundtrip")]
    assert "hook → spool → worker → backend in" in line(out, "roundtrip")
    # The turn really went through the worker into the store, and nothing of it is left.
    log = open(os.path.join(os.environ["TRACES_HOME"], "traces.log")).read()
    assert "doctor-" in log and "uploaded 1 turn(s)" in log
    assert not [t for t in store_traces() if t.info.trace_metadata.get(traces.META_SESSION, "").startswith("doctor-")]
    assert os.listdir(traces.claude_projects_dir()) == []
    assert traces.pending_jobs() == []
    state = os.path.join(os.environ["TRACES_HOME"], "state")
    assert not [n for n in os.listdir(state) if n.startswith("doctor-")]


def test_the_test_turn_is_removed_by_the_workers_python_when_doctors_has_no_mlflow(repo, capsys, monkeypatch):
    """A vendored copy run by a Python without mlflow (found trying the README's vendoring line):
    the worker's Python uploaded the test trace, so it removes it too."""
    init()
    capsys.readouterr()

    def no_mlflow():
        raise traces.MissingExtra("mlflow", "mlflow")
    monkeypatch.setattr(traces, "need_mlflow", no_mlflow)
    rc, out = doctor(capsys)
    assert rc == 0, out
    assert "and was removed" in line(out, "roundtrip")
    assert not [t for t in store_traces() if t.info.trace_metadata.get(traces.META_SESSION, "").startswith("doctor-")]


def test_json_lists_every_check_and_prints_nothing_else(repo, capsys):
    init()
    capsys.readouterr()
    rc, out = doctor(capsys, "--json", "--no-roundtrip")
    results = json.loads(out)
    assert rc == 0
    assert [r["check"] for r in results] == ["settings", "hook", "mlflow", "backend", "spool", "env"]
    assert all(r["ok"] is True and r["fix"] is None and r["detail"] for r in results)


def test_a_missing_hook_entry(repo, capsys):
    init()
    settings = read_settings(repo)
    del settings["hooks"]["SubagentStop"]
    write_json(repo / ".claude/settings.json", settings)
    rc, out = doctor(capsys, "--no-roundtrip")
    assert rc == 1
    assert line(out, "settings") == \
        "FAIL  settings   .claude/settings.json has no traces hook for SubagentStop — fix: traces init"


def test_malformed_settings_skip_what_depends_on_them(repo, capsys):
    init()
    (repo / ".claude/settings.json").write_text("{not json")
    rc, out = doctor(capsys)
    assert rc == 1
    assert line(out, "settings").startswith("FAIL  settings") and "is not valid JSON" in line(out, "settings")
    assert line(out, "hook").startswith("skip") and line(out, "roundtrip").startswith("skip")


def test_our_variables_in_an_env_block(repo, capsys):
    init()
    settings = read_settings(repo)
    settings["env"] = {"NODE_ENV": "dev", "MLFLOW_TRACKING_URI": "http://mlflow.example.com"}
    write_json(repo / ".claude/settings.json", settings)
    user = Path(os.environ["HOME"]) / ".claude" / "settings.json"
    user.parent.mkdir(parents=True, exist_ok=True)
    write_json(user, {"env": {"DATABRICKS_HOST": "https://example.cloud.databricks.com"}})
    rc, out = doctor(capsys, "--no-roundtrip")
    assert rc == 1
    found = line(out, "env")
    assert found.startswith("FAIL  env")
    assert ".claude/settings.json exports MLFLOW_TRACKING_URI" in found
    assert "~/.claude/settings.json exports DATABRICKS_HOST" in found
    assert "fix: remove MLFLOW_TRACKING_URI from the env block of .claude/settings.json" in found


def test_a_tracking_server_that_does_not_answer(repo, capsys):
    init()
    local = read_config(repo, local=True)
    url = f"http://127.0.0.1:{traces.free_port()}"
    local["tracking_uri"] = url
    write_json(repo / ".claude/traces.local.json", local)
    rc, out = doctor(capsys)
    assert rc == 1
    found = line(out, "backend")
    assert found.startswith("FAIL  backend") and f"cannot reach the MLflow server at {url}" in found
    assert f"fix: start the MLflow server at {url}" in found
    assert line(out, "roundtrip").startswith("skip")


def test_a_stuck_spool_shows_the_last_error(repo, capsys):
    init()
    home = os.environ["TRACES_HOME"]
    os.makedirs(os.path.join(home, "spool"), exist_ok=True)
    job = {"session_id": "sess-stuck", "hook_event_name": "Stop", "time": time.time() - 3600}
    with open(os.path.join(home, "spool", "00000000000000000001-1.json"), "w") as f:
        json.dump(job, f)
    traces.log("ERROR sess-stuck: cannot open http://mlflow.example.com: connection refused")
    rc, out = doctor(capsys, "--no-roundtrip")
    assert rc == 1
    found = line(out, "spool")
    assert found.startswith("FAIL  spool      1 job(s) waiting for more than 10 min; last error: ")
    assert "ERROR sess-stuck: cannot open http://mlflow.example.com: connection refused" in found
    assert "fix: traces sync --wait" in found


def test_a_hook_program_that_does_not_exist(repo, capsys):
    init()
    (repo / ".claude/traces.local.sh").write_text("/nonexistent/python -m traces hook\n")
    rc, out = doctor(capsys)
    assert rc == 1
    assert line(out, "hook") == (
        "FAIL  hook       `/nonexistent/python -m traces hook` does not reach traces: /nonexistent/python does "
        "not exist (from .claude/traces.local.sh) — fix: traces init (run by the traces the hook should use)")
    assert line(out, "mlflow").startswith("skip") and line(out, "roundtrip").startswith("skip")


def no_mlflow(python):
    done = subprocess.run([python, "-c", "import mlflow"], capture_output=True)
    return done.returncode != 0


@pytest.mark.skipif(not os.path.exists("/usr/bin/python3") or not no_mlflow("/usr/bin/python3"),
                    reason="needs a Python without mlflow")
def test_a_worker_python_without_mlflow(repo, capsys):
    init()
    local = read_config(repo, local=True)
    local["python"] = "/usr/bin/python3"
    write_json(repo / ".claude/traces.local.json", local)
    rc, out = doctor(capsys)
    assert rc == 1
    assert line(out, "mlflow") == ("FAIL  mlflow     /usr/bin/python3 has no mlflow: turns wait in the spool "
                                   "— fix: /usr/bin/python3 -m pip install 'mlflow>=3.10,<4' 'genai-prices>=0.2,<0.3' 'ahocorasick-rs>=1.0,<2'")
