"""Settings files: init, disable, enrichment and redact keep other people's content intact."""

import json
import os
import stat

import pytest
from helpers import git, read_settings

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


def test_init_writes_hooks_env_and_local_store(repo, capsys):
    assert init() == 0
    shared = read_settings(repo)
    for event in traces.HOOK_EVENTS:
        commands = [h["command"] for g in shared["hooks"][event] for h in g["hooks"]]
        assert commands == [traces.HOOK_COMMAND]
    assert shared["env"]["MLFLOW_EXPERIMENT_NAME"] == "acme/widgets"
    assert shared["env"]["CLAUDETRACING_ENRICHMENTS"] == "git,files,tokens,cost"
    assert "MLFLOW_TRACKING_URI" not in shared["env"]        # an absolute path is not the team's
    local = read_settings(repo, local=True)
    assert local["env"]["MLFLOW_TRACKING_URI"] == "sqlite:///" + os.path.join(os.environ["TRACES_HOME"], "mlflow.db")
    assert stat.S_IMODE((repo / ".claude/settings.local.json").stat().st_mode) == 0o600
    out = capsys.readouterr().out
    assert "restart Claude Code" in out
    assert f"reaches traces {traces.__version__}" in out


def test_init_twice_is_byte_identical(repo, capsys):
    init()
    first = [(repo / ".claude" / n).read_bytes() for n in ("settings.json", "settings.local.json")]
    gitignore = (repo / ".gitignore").read_bytes()
    init()
    assert [(repo / ".claude" / n).read_bytes() for n in ("settings.json", "settings.local.json")] == first
    assert (repo / ".gitignore").read_bytes() == gitignore
    assert "already set up" in capsys.readouterr().out


def test_init_merges_with_foreign_hooks_and_env(repo):
    write(repo / ".claude/settings.json", json.dumps(FOREIGN, indent=2) + "\n")
    init()
    shared = read_settings(repo)
    assert list(shared) == ["permissions", "env", "hooks", "model"]
    assert shared["permissions"] == FOREIGN["permissions"]
    assert shared["env"]["NODE_ENV"] == "development"
    # A name the team picked by hand is the default, not overwritten.
    assert shared["env"]["MLFLOW_EXPERIMENT_NAME"] == "team/picked-by-hand"
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
    assert not (repo / ".claude/settings.local.json").exists()


def test_disable_after_fresh_init_removes_the_files_it_made(repo):
    init()
    traces.main(["disable"])
    assert not (repo / ".claude/settings.json").exists()
    assert not (repo / ".claude/settings.local.json").exists()


def test_disable_keeps_a_file_that_was_there_even_if_empty(repo):
    write(repo / ".claude/settings.json", "{}\n")
    init()
    traces.main(["disable"])
    assert (repo / ".claude/settings.json").read_text() == "{}\n"


def test_legacy_environment_block_is_migrated_in_place(repo):
    legacy = {"model": "sonnet", "environment": {"MLFLOW_TRACKING_URI": "databricks", "FOO": "1"}, "x": 1}
    write(repo / ".claude/settings.json", json.dumps(legacy, indent=2) + "\n")
    init()
    shared = read_settings(repo)
    assert "environment" not in shared
    assert list(shared)[:3] == ["model", "env", "x"]
    assert shared["env"]["FOO"] == "1"


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


@pytest.mark.parametrize("command", [["init", "--local", "--yes"], ["disable"], ["enrichment", "add", "git"],
                                     ["redact", "add", "foo"]])
@pytest.mark.parametrize("which", ["settings.json", "settings.local.json"])
@pytest.mark.parametrize("content", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_settings_are_refused_untouched(repo, capsys, command, which, content):
    path = write(repo / ".claude" / which, content)
    other = repo / ".claude" / ("settings.local.json" if which == "settings.json" else "settings.json")
    assert traces.main(command) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and which in err and "not changed" in err
    assert path.read_bytes() == content
    assert not other.exists()
    assert not (repo / ".gitignore").exists()


def test_gitignore_gets_the_local_file_once(repo):
    write(repo / ".gitignore", "node_modules/")        # no trailing newline
    init()
    text = (repo / ".gitignore").read_text()
    assert text.startswith("node_modules/\n") and text.count(".claude/settings.local.json") == 1
    git(repo, "add", "-A")
    assert ".claude/settings.local.json" not in git(repo, "status", "--porcelain")
    init("-e", "other")
    assert (repo / ".gitignore").read_text() == text


def test_gitignore_left_alone_when_a_rule_covers_it(repo):
    write(repo / ".gitignore", ".claude/*.local.json\n")
    init()
    assert (repo / ".gitignore").read_text() == ".claude/*.local.json\n"


def test_init_outside_git(tmp_path, monkeypatch):
    folder = tmp_path / "scratch-project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    assert init() == 0
    assert read_settings(folder)["env"]["MLFLOW_EXPERIMENT_NAME"] == "scratch-project"
    assert not (folder / ".gitignore").exists()


def test_interactive_init_reads_answers(repo, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("1\nplatform/claude-widgets\n"))
    assert traces.main(["init"]) == 0
    assert read_settings(repo)["env"]["MLFLOW_EXPERIMENT_NAME"] == "platform/claude-widgets"
    out = capsys.readouterr().out
    assert "Where should traces go?" in out and "Experiment name [acme/widgets]" in out


def test_interactive_init_takes_defaults_on_end_of_input(repo, monkeypatch):
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(""))
    assert traces.main(["init"]) == 0
    assert read_settings(repo)["env"]["MLFLOW_EXPERIMENT_NAME"] == "acme/widgets"


def test_experiment_id_replaces_name(repo):
    init()
    init("--experiment-id", "42")
    env = read_settings(repo)["env"]
    assert env["MLFLOW_EXPERIMENT_ID"] == "42" and "MLFLOW_EXPERIMENT_NAME" not in env


def test_vendored_copy_uses_the_project_dir(repo, monkeypatch):
    vendored = repo / "tools" / "traces.py"
    vendored.parent.mkdir()
    vendored.write_text(open(traces.__file__).read())
    monkeypatch.setattr(traces, "__file__", str(vendored))
    shared, local = traces.hook_invocation(str(repo))
    assert shared == 'python3 "$CLAUDE_PROJECT_DIR/tools/traces.py" hook' and local is None


def test_enrichment_add_remove_and_unknown(repo, capsys):
    init()
    assert traces.main(["enrichment", "remove", "git", "cost"]) == 0
    assert read_settings(repo)["env"]["CLAUDETRACING_ENRICHMENTS"] == "files,tokens"
    assert traces.main(["enrichment", "add", "cost"]) == 0
    assert read_settings(repo)["env"]["CLAUDETRACING_ENRICHMENTS"] == "files,tokens,cost"
    before = (repo / ".claude/settings.json").read_bytes()
    assert traces.main(["enrichment", "add", "weather"]) == 1
    err = capsys.readouterr().err
    assert "unknown enrichment weather" in err and "git, files, tokens, cost" in err
    assert (repo / ".claude/settings.json").read_bytes() == before
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
    committed = (repo / ".claude/settings.json").read_text()
    local = read_settings(repo, local=True)["env"]
    assert "s3cret" not in committed and "alice" not in committed
    assert local["MLFLOW_TRACKING_USERNAME"] == "alice" and local["MLFLOW_TRACKING_PASSWORD"] == "s3cret"
    # A server on loopback is this machine's: its URL stays local too.
    assert local["MLFLOW_TRACKING_URI"] == mlflow_server.url


def test_tracking_uri_unreachable_writes_nothing(repo, capsys):
    assert traces.main(["init", "--tracking-uri", "http://127.0.0.1:9", "--yes"]) == 1
    assert "cannot reach the MLflow server" in capsys.readouterr().err
    assert not (repo / ".claude").exists()
