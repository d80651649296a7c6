"""TRACES_HOME cannot be created: the hook stays silent and fast, `traces status` says why."""

import json

from faultkit import Session, cli, hook_env, run_hook


def test_hook_is_silent_and_status_explains_when_traces_home_cannot_exist(tmp_path, repo):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a regular file where a folder should be\n")
    # Root ignores permission bits, so only a path through a regular file stops it everywhere.
    home = blocker / "claudetracing"
    env = hook_env(TRACES_HOME=str(home), MLFLOW_EXPERIMENT_NAME="acme/widgets")

    done, seconds = run_hook(Session("sess-ro-1").add_turn(), env)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    assert seconds < 2.0
    assert blocker.read_text().startswith("a regular file")

    status = cli("status", env=env, cwd=repo)
    assert status.returncode == 0
    problems = [line.strip() for line in status.stdout.splitlines() if line.strip().startswith("Problem:")]
    assert problems and str(home) in problems[0] and "TRACES_HOME" in problems[0], status.stdout
    as_json = json.loads(cli("status", "--json", env=env, cwd=repo).stdout)
    assert any(str(home) in p for p in as_json["problems"])
    print(f"\n[unwritable TRACES_HOME] hook exit 0 in {seconds * 1000:.0f} ms, silent; status: {problems[0]}")
