"""Secrets never leave the machine; local files stay private to the user."""

import json
import os
import shutil
import stat

import pytest
from fakeapi import SECRET_AWS, SECRET_GITHUB
from helpers import RECORDED, read_settings
from transcripts import Transcript

import traces


def import_secret_session(tmp_path, env):
    folder = tmp_path / "secret-session"
    shutil.copytree(RECORDED / "secret", folder)
    uploader = traces.Uploader(env)
    [path] = [p for p in folder.glob("*.jsonl") if p.name != "hooks.jsonl"]
    assert traces.trace_session(path.stem, str(path), uploader, final=True, context={"env": env}) == 1
    [trace] = uploader.client.search_traces(locations=[uploader.experiment()])
    return trace


def everything_stored(trace):
    """Every string MLflow holds for the trace: info, tags, metadata, previews, spans."""
    return json.dumps(trace.to_dict(), default=str)


def store_env(**extra):
    return {"MLFLOW_TRACKING_URI": "sqlite:///" + os.path.join(os.environ["TRACES_HOME"], "mlflow.db"),
            "MLFLOW_EXPERIMENT_NAME": "acme/widgets", **extra}


def test_secrets_from_a_real_session_never_reach_the_store(tmp_path):
    trace = import_secret_session(tmp_path, store_env())
    stored = everything_stored(trace)
    assert SECRET_AWS not in stored and SECRET_GITHUB not in stored
    assert "[REDACTED:aws-secret-access-key]" in stored and "[REDACTED:github-token]" in stored


def test_redaction_off_uploads_as_is(tmp_path):
    trace = import_secret_session(tmp_path, store_env(CLAUDETRACING_REDACT="off"))
    stored = everything_stored(trace)
    assert SECRET_AWS in stored and SECRET_GITHUB in stored


def test_custom_patterns_from_settings_apply(tmp_path):
    t = Transcript(session="sess-custom")
    t.prompt("deploy with ticket ACME-12345 and key corp-7f3a9b")
    t.text("done, corp-7f3a9b used")
    path = t.write(str(tmp_path))
    env = store_env(CLAUDETRACING_REDACT_PATTERNS=json.dumps([r"corp-[0-9a-f]{6}"]))
    uploader = traces.Uploader(env)
    traces.trace_session("sess-custom", path, uploader, final=True, context={"env": env})
    [trace] = uploader.client.search_traces(locations=[uploader.experiment()])
    stored = everything_stored(trace)
    assert "corp-7f3a9b" not in stored and "[REDACTED:custom]" in stored and "ACME-12345" in stored


def test_big_payloads_are_cut_with_a_marker(tmp_path):
    t = Transcript(session="sess-big")
    t.prompt("dump the log")
    tool = t.tool("Bash", {"command": "cat huge.log"})
    t.result(tool, "x" * 50_000)
    t.text("that was long")
    path = t.write(str(tmp_path))
    env = store_env(CLAUDETRACING_MAX_PAYLOAD="5000")
    uploader = traces.Uploader(env)
    traces.trace_session("sess-big", path, uploader, final=True, context={"env": env})
    [trace] = uploader.client.search_traces(locations=[uploader.experiment()])
    [bash] = [s for s in trace.data.spans if s.name == "tool_Bash"]
    output = bash.outputs if isinstance(bash.outputs, str) else json.dumps(bash.outputs)
    assert len(output) < 5200 and "truncated by claudetracing" in output


def test_redact_commands_keep_the_team_choice_in_committed_settings(repo, capsys):
    assert traces.main(["init", "--local", "--yes"]) == 0
    assert traces.main(["redact", "add", r"corp-[0-9a-f]{6}"]) == 0
    assert json.loads(read_settings(repo)["env"]["CLAUDETRACING_REDACT_PATTERNS"]) == [r"corp-[0-9a-f]{6}"]
    assert traces.main(["redact", "add", "(unclosed"]) == 1
    assert "invalid redaction pattern" in capsys.readouterr().err
    traces.main(["redact", "list"])
    listing = capsys.readouterr().out
    assert "github-token" in listing and r"custom: corp-[0-9a-f]{6}" in listing
    assert traces.main(["redact", "remove", r"corp-[0-9a-f]{6}"]) == 0
    assert "CLAUDETRACING_REDACT_PATTERNS" not in read_settings(repo)["env"]
    assert traces.main(["redact", "off"]) == 0
    assert read_settings(repo)["env"]["CLAUDETRACING_REDACT"] == "off"
    capsys.readouterr()
    traces.main(["status"])
    assert "OFF: secrets in transcripts are uploaded as they are" in capsys.readouterr().out
    assert traces.main(["init", "--local", "--yes"]) == 0            # init keeps the team's choice
    assert read_settings(repo)["env"]["CLAUDETRACING_REDACT"] == "off"
    assert traces.main(["redact", "on"]) == 0
    assert "CLAUDETRACING_REDACT" not in read_settings(repo)["env"]


def test_everything_in_traces_home_is_private(tmp_path):
    t = Transcript(session="sess-private")
    t.prompt("hello")
    t.text("hi")
    path = t.write(os.path.join(os.environ["HOME"], ".claude", "projects"))
    traces.write_job({"session_id": "sess-private", "hook_event_name": "SessionEnd", "transcript_path": path,
                      "env": store_env(), "time": 0})
    traces.log("a line")
    assert traces.main(["sync", "--wait", "60"]) == 0
    home = os.environ["TRACES_HOME"]
    for folder, _dirs, files in os.walk(home):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder
        for name in files:
            if name.endswith(".db") or name.endswith((".db-wal", ".db-shm")):
                continue                 # MLflow's store; its folder is 0700
            assert stat.S_IMODE(os.stat(os.path.join(folder, name)).st_mode) == 0o600, name


@pytest.mark.parametrize("crafted", ["/etc/passwd", "../../../../etc/passwd", "/tmp/x.jsonl"])
def test_crafted_transcript_paths_are_not_read(crafted, tmp_path):
    traces.write_job({"session_id": "sess-evil", "hook_event_name": "SessionEnd", "transcript_path": crafted,
                      "env": store_env(), "time": 0})
    assert traces.main(["sync", "--wait", "10"]) == 0
    assert traces.pending_jobs() == []
    assert not os.path.exists(os.path.join(os.environ["TRACES_HOME"], "mlflow.db"))
