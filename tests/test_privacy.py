"""Secrets never leave the machine; local files stay private to the user."""

import json
import os
import shutil
import stat

import pytest
from fakeapi import SECRET_AWS, SECRET_GITHUB
from helpers import RECORDED, read_config, read_settings, traces_cli
from transcripts import Transcript

import traces

# Each test twice: with ahocorasick_rs's pre-filter and without it (conftest.py).
pytestmark = pytest.mark.usefixtures("both_redaction_paths")


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
    assert read_config(repo)["redact_patterns"] == [r"corp-[0-9a-f]{6}"]
    assert traces.main(["redact", "add", "(unclosed"]) == 1
    assert "invalid redaction pattern" in capsys.readouterr().err
    traces.main(["redact", "list"])
    listing = capsys.readouterr().out
    assert "github-token" in listing and r"custom: corp-[0-9a-f]{6}" in listing
    assert traces.main(["redact", "remove", r"corp-[0-9a-f]{6}"]) == 0
    assert "redact_patterns" not in read_config(repo)
    assert traces.main(["redact", "off"]) == 0
    assert read_config(repo)["redact"] is False
    capsys.readouterr()
    traces.main(["status"])
    assert "OFF: secrets in transcripts are uploaded as they are" in capsys.readouterr().out
    assert traces.main(["init", "--local", "--yes"]) == 0            # init keeps the team's choice
    assert read_config(repo)["redact"] is False
    assert traces.main(["redact", "on"]) == 0
    assert "redact" not in read_config(repo)
    assert "env" not in read_settings(repo)


def test_redact_check_shows_what_would_be_uploaded(repo):
    """A team tries a pattern on real text before it relies on it: built-in kinds, the
    repository's patterns and the ones given with -p; stdin in, redacted text out."""
    assert traces.main(["init", "--local", "--yes"]) == 0
    assert traces.main(["redact", "add", r"corp-[0-9a-f]{6}"]) == 0
    text = ("export GITHUB_TOKEN=ghp_" + "a1B2" * 9 + "\nticket corp-12ab34 and order ORD-778899\n"
            "the 3 tokens were counted\n")
    done = traces_cli("redact", "check", "-p", r"ORD-\d{6}", input=text, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ("export GITHUB_TOKEN=[REDACTED:github-token]\nticket [REDACTED:custom] and order "
                           "[REDACTED:custom]\nthe 3 tokens were counted\n")
    assert done.stderr.strip() == "redacted 3: custom 2, github-token 1"
    assert read_config(repo)["redact_patterns"] == [r"corp-[0-9a-f]{6}"]      # -p only tries
    done = traces_cli("redact", "check", "-p", "(unclosed", input=text, cwd=repo)
    assert done.returncode == 1 and done.stderr.startswith("Error: invalid redaction pattern")


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
            assert stat.S_IMODE(os.stat(os.path.join(folder, name)).st_mode) == 0o600, name


@pytest.mark.parametrize("crafted", ["/etc/passwd", "../../../../etc/passwd", "/tmp/x.jsonl"])
def test_crafted_transcript_paths_are_not_read(crafted, tmp_path):
    traces.write_job({"session_id": "sess-evil", "hook_event_name": "SessionEnd", "transcript_path": crafted,
                      "env": store_env(), "time": 0})
    assert traces.main(["sync", "--wait", "10"]) == 0
    assert traces.pending_jobs() == []
    assert not os.path.exists(os.path.join(os.environ["TRACES_HOME"], "mlflow.db"))


def test_the_log_never_holds_a_secret_an_error_quotes():
    traces.log("ERROR s: cannot reach https://bob:pw-9f8e7d@mlflow.example.com (token ghp_" + "k3Y9" * 9 + ")")
    text = open(os.path.join(os.environ["TRACES_HOME"], "traces.log")).read()
    assert "pw-9f8e7d" not in text and "k3Y9" not in text
    assert "https://bob:[REDACTED:url-password]@mlflow.example.com" in text


def test_spool_checkpoints_and_log_hold_no_transcript_text(tmp_path, monkeypatch):
    """A turn whose answer quotes a secret goes through hook → spool → worker: the files we
    keep in TRACES_HOME (jobs, checkpoints, the log) hold neither the secret nor the answer."""
    answer = f"Your key is {SECRET_GITHUB}, keep it safe."
    t = Transcript(session="sess-quiet")
    t.prompt("show me the key")
    t.text(answer)
    path = t.write(os.path.join(os.environ["HOME"], ".claude", "projects"))
    payload = {"session_id": "sess-quiet", "transcript_path": path, "cwd": str(tmp_path), "hook_event_name": "Stop",
               "last_assistant_message": answer}
    monkeypatch.setattr(traces, "start_worker", lambda: None)         # the sync below is the worker
    traces.hook(json.dumps(payload).encode(), {"CLAUDE_PROJECT_DIR": str(tmp_path)})
    spooled = "".join(open(p).read() for p in traces.pending_jobs())
    assert spooled and SECRET_GITHUB not in spooled and "keep it safe" not in spooled
    assert traces.main(["sync", "--wait", "60"]) == 0
    kept = ""
    for folder, _dirs, files in os.walk(os.environ["TRACES_HOME"]):
        for name in files:
            if not name.startswith("mlflow.db"):
                kept += open(os.path.join(folder, name), "rb").read().decode("utf-8", "replace")
    assert "sess-quiet" in kept                      # the checkpoint is there ...
    assert SECRET_GITHUB not in kept and "keep it safe" not in kept and "show me the key" not in kept
