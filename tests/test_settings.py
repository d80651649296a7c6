"""Settings files: init, disable, enrichment and redact keep other people's content intact."""

import json
import os
import stat
import sys

import pytest
from helpers import git, read_config, read_settings

import traces

FOREIGN = {
    "permissions": {"allow": ["Bash(npm test)"]},
    "env": {"NODE_ENV": "development", "MLFLOW_EXPERIMENT_NAME": "team/picked-by-hand"},
    "hooks": {
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "audit.sh"}]}],
    },
    "model": "opus",
}


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def init(*extra):
    return traces.main(["init", "--local", "--yes", *extra])


def test_init_writes_hooks_config_and_local_store(repo, capsys):
    assert init() == 0
    shared = read_settings(repo)
    for event in traces.HOOK_EVENTS:
        commands = [h["command"] for g in shared["hooks"][event] for h in g["hooks"]]
        assert commands == [traces.HOOK_COMMAND]
    assert "env" not in shared                             # nothing Claude Code would export
    team = read_config(repo)
    assert team == {"experiment": "acme/widgets", "enrichments": ["git", "files", "tokens", "cost"]}
    local = read_config(repo, local=True)
    assert local["tracking_uri"] == "sqlite:///" + os.path.join(os.environ["TRACES_HOME"], "mlflow.db")
    for name in ("traces.local.json", "traces.local.sh"):
        assert stat.S_IMODE((repo / ".claude" / name).stat().st_mode) == 0o600
    assert not (repo / ".claude/settings.local.json").exists()
    out = capsys.readouterr().out
    assert "restart Claude Code" in out
    assert f"reaches traces {traces.__version__}" in out


def test_init_twice_is_byte_identical(repo, capsys):
    init()
    names = ("settings.json", "traces.json", "traces.local.json", "traces.local.sh")
    first = [(repo / ".claude" / n).read_bytes() for n in names]
    gitignore = (repo / ".gitignore").read_bytes()
    init()
    assert [(repo / ".claude" / n).read_bytes() for n in names] == first
    assert (repo / ".gitignore").read_bytes() == gitignore
    assert "already set up" in capsys.readouterr().out


def test_init_merges_with_foreign_hooks_and_env(repo):
    write(repo / ".claude/settings.json", json.dumps(FOREIGN, indent=2) + "\n")
    init()
    shared = read_settings(repo)
    assert list(shared) == ["permissions", "env", "hooks", "model"]
    assert shared["permissions"] == FOREIGN["permissions"]
    assert shared["env"] == {"NODE_ENV": "development"}
    # A name the team picked by hand is kept, in our file: the env block reaches every command.
    assert read_config(repo)["experiment"] == "team/picked-by-hand"
    assert shared["hooks"]["PreToolUse"] == FOREIGN["hooks"]["PreToolUse"]
    stop = [h["command"] for g in shared["hooks"]["Stop"] for h in g["hooks"]]
    assert stop == ["notify-send done", traces.HOOK_COMMAND]


def test_disable_restores_original_bytes(repo):
    original = json.dumps(FOREIGN, indent=4) + "\n"
    write(repo / ".claude/settings.json", original)
    init()
    assert (repo / ".claude/settings.json").read_text() != original
    assert traces.main(["disable"]) == 0
    # Our env keys are ours to remove; everything else is back byte for byte.
    expected = json.loads(original)
    del expected["env"]["MLFLOW_EXPERIMENT_NAME"]
    assert (repo / ".claude/settings.json").read_text() == json.dumps(expected, indent=4) + "\n"
    assert sorted(p.name for p in (repo / ".claude").iterdir()) == ["settings.json"]


def test_disable_after_fresh_init_removes_the_files_it_made(repo):
    write(repo / ".gitignore", "node_modules/\n")
    init()
    traces.main(["disable"])
    assert not (repo / ".claude").exists()
    assert (repo / ".gitignore").read_text() == "node_modules/\n"


def test_disable_keeps_a_file_that_was_there_even_if_empty(repo):
    write(repo / ".claude/settings.json", "{}\n")
    init()
    traces.main(["disable"])
    assert (repo / ".claude/settings.json").read_text() == "{}\n"


def test_retired_python_hooks_are_replaced(repo):
    old = {"hooks": {"Stop": [{"hooks": [{"type": "command", "command":
                                          'python -c "from mlflow.claude_code.hooks import stop_hook_handler; stop_hook_handler()"'}]}]}}
    write(repo / ".claude/settings.json", json.dumps(old))
    init()
    stop = [h["command"] for g in read_settings(repo)["hooks"]["Stop"] for h in g["hooks"]]
    assert stop == [traces.HOOK_COMMAND]


MALFORMED = {
    "not json": b'{"env": {',
    "not an object": b"[1, 2]",
    "env not an object": b'{"env": ["A=1"]}',
    "hooks not an object": b'{"hooks": "traces hook"}',
    "event not an array": b'{"hooks": {"Stop": {"command": "x"}}}',
    "not utf-8": b'{"env": {"A": "\xff\xfe"}}',
}


@pytest.mark.parametrize("content", ['{"enrichments": "git"}', '{"redact": "off"}', '{"experiment": 42}',
                                     '{"max_payload": "big"}', '{"redact_patterns": [1]}'])
def test_our_files_with_wrong_types_are_refused_untouched(repo, capsys, content):
    path = write(repo / ".claude" / "traces.json", content)
    assert traces.main(["init", "--local", "--yes"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "traces.json" in err and "must be" in err and "not changed" in err
    assert path.read_text() == content and not (repo / ".claude/settings.json").exists()


@pytest.mark.parametrize("command", [["init", "--local", "--yes"], ["disable"], ["enrichment", "add", "git"],
                                     ["redact", "add", "foo"]])
@pytest.mark.parametrize("which", ["settings.json", "settings.local.json", "traces.json", "traces.local.json"])
@pytest.mark.parametrize("content", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_settings_are_refused_untouched(repo, capsys, command, which, content):
    if which.startswith("traces") and b'"env"' not in content and b'"hooks"' in content:
        pytest.skip("our files have no hooks")
    path = write(repo / ".claude" / which, content)
    assert traces.main(command) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and which in err and "not changed" in err
    assert path.read_bytes() == content
    assert [p.name for p in (repo / ".claude").iterdir()] == [which]
    assert not (repo / ".gitignore").exists()


def test_gitignore_gets_the_local_files_once(repo):
    write(repo / ".gitignore", "node_modules/")        # no trailing newline
    init()
    text = (repo / ".gitignore").read_text()
    assert text.startswith("node_modules/\n") and text.count(".claude/traces.local.json") == 1
    git(repo, "add", "-A")
    status = git(repo, "status", "--porcelain")
    assert ".claude/traces.json" in status and ".claude/traces.local" not in status
    init("-e", "other")
    assert (repo / ".gitignore").read_text() == text


def test_gitignore_left_alone_when_a_rule_covers_it(repo):
    write(repo / ".gitignore", ".claude/*.local.*\n")
    init()
    assert (repo / ".gitignore").read_text() == ".claude/*.local.*\n"


def test_init_outside_git(tmp_path, monkeypatch):
    folder = tmp_path / "scratch-project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    assert init() == 0
    assert read_config(folder)["experiment"] == "scratch-project"
    assert not (folder / ".gitignore").exists()


def test_interactive_init_reads_answers(repo, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("claude\n1\nplatform/claude-widgets\n"))
    assert traces.main(["init"]) == 0
    assert read_config(repo)["experiment"] == "platform/claude-widgets"
    out = capsys.readouterr().out
    assert "Where should traces go?" in out and "Experiment name [acme/widgets]" in out


def test_interactive_init_takes_defaults_on_end_of_input(repo, monkeypatch):
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(""))
    assert traces.main(["init"]) == 0
    assert read_config(repo)["experiment"] == "acme/widgets"


def test_experiment_id_replaces_name(repo):
    init()
    init("--experiment-id", "42")
    team = read_config(repo)
    assert team["experiment_id"] == "42" and "experiment" not in team


def test_vendored_copy_uses_the_project_dir(repo, monkeypatch):
    vendored = repo / "tools" / "traces.py"
    vendored.parent.mkdir()
    vendored.write_text(open(traces.__file__).read())
    monkeypatch.setattr(traces, "__file__", str(vendored))
    shared, local, python = traces.hook_invocation(str(repo))
    assert shared == 'python3 "$CLAUDE_PROJECT_DIR/tools/traces.py" hook' and local is None
    assert python == sys.executable         # it has mlflow: the worker runs with it


def test_enrichment_add_remove_and_unknown(repo, capsys):
    init()
    assert traces.main(["enrichment", "remove", "git", "cost"]) == 0
    assert read_config(repo)["enrichments"] == ["files", "tokens"]
    assert traces.main(["enrichment", "add", "cost"]) == 0
    assert read_config(repo)["enrichments"] == ["files", "tokens", "cost"]
    before = (repo / ".claude/traces.json").read_bytes()
    assert traces.main(["enrichment", "add", "weather"]) == 1
    err = capsys.readouterr().err
    assert "unknown enrichment weather" in err and "git, files, tokens, cost" in err
    assert (repo / ".claude/traces.json").read_bytes() == before
    traces.main(["enrichment", "list"])
    listing = capsys.readouterr().out
    assert "* files" in listing and "  git" in listing
    traces.main(["enrichment", "info", "files"])
    assert "files.modified, files.count" in capsys.readouterr().out


def test_status_json_is_json_only(repo, capsys):
    init()
    capsys.readouterr()
    assert traces.main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["configured"] is True and status["hook_runs"] is True
    assert status["experiment"] == "acme/widgets" and status["backend"]["kind"] == "local"
    assert status["pending_jobs"] == 0 and status["redaction"]["enabled"] is True


def test_status_unconfigured(repo, capsys):
    traces.main(["status"])
    assert "no (run `traces init`)" in capsys.readouterr().out


def test_tracking_uri_credentials_never_reach_the_committed_file(repo, monkeypatch, mlflow_server):
    if mlflow_server.backend_store_uri.startswith("postgresql"):
        pytest.skip("one backend is enough for settings placement")
    url = mlflow_server.url.replace("http://", "http://alice:s3cret@")
    assert traces.main(["init", "--tracking-uri", url, "-e", "acme/widgets", "--yes"]) == 0
    committed = (repo / ".claude/settings.json").read_text() + (repo / ".claude/traces.json").read_text()
    local = (repo / ".claude/traces.local.json").read_text()
    assert "s3cret" not in committed + local and "alice" not in committed + local
    # The credentials are this user's, in TRACES_HOME, private.
    stored = traces.credentials_path()
    assert stat.S_IMODE(os.stat(stored).st_mode) == 0o600
    assert traces.stored_credentials(mlflow_server.url) == {
        "MLFLOW_TRACKING_USERNAME": "alice", "MLFLOW_TRACKING_PASSWORD": "s3cret"}
    # A server on loopback is this machine's: its URL stays local too.
    assert read_config(repo, local=True)["tracking_uri"] == mlflow_server.url


def test_tracking_uri_unreachable_writes_nothing(repo, capsys):
    assert traces.main(["init", "--tracking-uri", "http://127.0.0.1:9", "--yes"]) == 1
    assert "cannot reach the MLflow server" in capsys.readouterr().err
    assert not (repo / ".claude").exists()


# -- repositories set up before 0.9 ------------------------------------------------------------

OLD_COMMAND = 'exec 3<&0 >/dev/null 2>&1; (eval "${CLAUDETRACING_HOOK:-traces hook}" <&3 &); true'


def old_layout(repo, server="http://mlflow.example.com"):
    """What traces 0.8 wrote: everything in the settings' env blocks, Claude exports them."""
    hooks = {event: [{"hooks": [{"type": "command", "command": OLD_COMMAND}]}] for event in traces.HOOK_EVENTS}
    shared = {"env": {"NODE_ENV": "dev", "MLFLOW_TRACKING_URI": server, "MLFLOW_EXPERIMENT_NAME": "team/old",
                      "CLAUDETRACING_ENRICHMENTS": "git,tokens"}, "hooks": hooks}
    local = {"env": {"MLFLOW_TRACKING_TOKEN": "tok-old-123", "CLAUDETRACING_HOOK": traces.machine_invocation(
        os.path.abspath(traces.__file__)) or "traces hook"}}
    write(repo / ".claude/settings.json", json.dumps(shared, indent=2) + "\n")
    write(repo / ".claude/settings.local.json", json.dumps(local, indent=2) + "\n")
    return shared, local


def test_an_old_layout_keeps_working_and_status_says_to_move_it(repo, capsys, monkeypatch):
    shared, local = old_layout(repo)
    monkeypatch.setattr(traces, "start_worker", lambda: None)
    # Claude Code runs the old command with the env blocks exported: the hook still records
    # the turn for the right backend and experiment, and no token goes into the job.
    env = {**os.environ, **shared["env"], **local["env"], "CLAUDE_PROJECT_DIR": str(repo),
           "CLAUDETRACING_PYTHON": "/bin/true"}
    payload = {"session_id": "sess-old", "transcript_path": "", "cwd": str(repo), "hook_event_name": "Stop"}
    import subprocess
    import time
    subprocess.run(["sh", "-c", OLD_COMMAND], input=json.dumps(payload).encode(), env=env, timeout=30)
    deadline = time.time() + 30
    while not traces.pending_jobs() and time.time() < deadline:
        time.sleep(0.1)
    [job_path] = traces.pending_jobs()
    job = json.load(open(job_path))
    assert job["env"]["MLFLOW_TRACKING_URI"] == "http://mlflow.example.com"
    assert job["env"]["MLFLOW_EXPERIMENT_NAME"] == "team/old" and "tok-old-123" not in open(job_path).read()
    assert traces.job_credentials(str(repo), "http://mlflow.example.com")["MLFLOW_TRACKING_TOKEN"] == "tok-old-123"

    status = traces.repo_status(str(repo), check_hook=False)
    problems = "\n".join(status["problems"])
    assert "written by a version before 0.9" in problems
    assert ".claude/settings.json sets MLFLOW_TRACKING_URI, MLFLOW_EXPERIMENT_NAME, CLAUDETRACING_ENRICHMENTS" in problems
    assert ".claude/settings.local.json sets MLFLOW_TRACKING_TOKEN, CLAUDETRACING_HOOK" in problems


def test_init_moves_an_old_layout_to_our_files(repo, capsys, monkeypatch, mlflow_server):
    if mlflow_server.backend_store_uri.startswith("postgresql"):
        pytest.skip("one backend is enough for the move")
    old_layout(repo, server=mlflow_server.url)
    assert traces.main(["init", "--yes"]) == 0
    shared, local = read_settings(repo), read_settings(repo, local=True)
    assert shared["env"] == {"NODE_ENV": "dev"} and "env" not in local
    assert all(c == [traces.HOOK_COMMAND] for c in (traces.our_hook_commands(shared, e) for e in traces.HOOK_EVENTS))
    assert read_config(repo) == {"experiment": "team/old", "enrichments": ["git", "tokens"]}
    assert read_config(repo, local=True)["tracking_uri"] == mlflow_server.url     # loopback: this machine's
    assert traces.stored_credentials(mlflow_server.url) == {"MLFLOW_TRACKING_TOKEN": "tok-old-123"}
    assert "tok-old-123" not in "".join(p.read_text() for p in (repo / ".claude").iterdir())
    assert traces.repo_status(str(repo), check_hook=False)["problems"] == []


def test_init_in_the_home_folder_refuses_without_user_wide(isolated, monkeypatch, capsys):
    monkeypatch.chdir(isolated)
    assert init() == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and err.count("\n") == 1 and "--user-wide" in err
    assert list(isolated.iterdir()) == [] and not os.path.exists(os.environ["TRACES_HOME"])


def test_init_user_wide_writes_the_users_settings(isolated, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert init("--user-wide") == 0
    assert "traces" in read_settings(isolated)["hooks"]["Stop"][0]["hooks"][0]["command"]
    assert "Every Claude Code session of this user" in capsys.readouterr().out
    monkeypatch.chdir(isolated)
    assert traces.main(["disable"]) == 0
    assert not (isolated / ".claude").exists()


def test_interactive_init_in_the_home_folder_asks_before_going_user_wide(isolated, monkeypatch, capsys):
    monkeypatch.chdir(isolated)
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("\n"))
    assert traces.main(["init"]) == 1
    assert not (isolated / ".claude").exists()
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("y\n"))
    assert traces.main(["init"]) == 0
    assert "Every Claude Code session of this user" in capsys.readouterr().out


def test_init_outside_a_repository_says_whose_sessions_it_traces(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.chdir(folder)
    assert init() == 0
    assert f"sessions started in {folder}" in capsys.readouterr().out


def test_disable_removes_the_gitignore_init_created(repo):
    init()
    assert (repo / ".gitignore").exists()
    assert traces.main(["disable"]) == 0
    assert not (repo / ".gitignore").exists() and not (repo / ".claude").exists()


def test_unusable_traces_home_leaves_the_repository_untouched(repo, tmp_path, monkeypatch, capsys):
    home = tmp_path / "a-file"
    home.write_text("")
    monkeypatch.setenv("TRACES_HOME", str(home))
    assert init() == 1
    err = capsys.readouterr().err
    assert err.startswith(f"Error: {home} is a file") and "TRACES_HOME" in err
    assert sorted(p.name for p in repo.iterdir()) == [".git", "README.md"]
