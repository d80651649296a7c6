"""Databricks setup against real clients: databricks-sdk and MLflow's `databricks://` store talk to a
stand-in workspace (tests/databricks_standin.py) that checks every request it gets.

What is real: databricks-sdk (config file loading, host metadata, OAuth M2M through the OIDC
endpoints, the `databricks auth token` subprocess protocol, error mapping), mlflow's Databricks
store and REST client, configparser, our init/status code. What is not: the workspace (a
stand-in) and the `databricks` CLI (a script: the real one needs a browser to sign in).
"""

import io
import json
import os
import shutil
import socket
import time
from pathlib import Path

import pytest
from databricks_standin import Workspace
from helpers import read_config

import traces

pytest.importorskip("databricks.sdk")
USER = "ada@example.com"

# A stand-in for the real Databricks CLI (which signs in through a browser). The SDK calls
# `databricks version --output json` and `databricks auth token --profile P`; init calls
# `databricks auth login --host H --profile P`. Tokens come from the stand-in workspace and sit
# in $FAKE_DATABRICKS_DIR/<profile>.token, as the real CLI keeps them in its token cache.
# The SDK takes any `databricks` smaller than 1 MB for the retired Python CLI: hence the padding.
FAKE_CLI = r'''#!/bin/sh
dir="$FAKE_DATABRICKS_DIR"
echo "$*" >> "$dir/calls.log"
profile=""; host=""; prev=""
for arg in "$@"; do
  [ "$prev" = "--profile" ] && profile="$arg"
  [ "$prev" = "--host" ] && host="$arg"
  prev="$arg"
done
case "$1 $2" in
"version --output")
  echo '{"Version":"0.300.0","Major":0,"Minor":300,"Patch":0}' ;;
"auth token")
  if [ -f "$dir/$profile.token" ]; then
    printf '{"access_token":"%s","token_type":"Bearer","expiry":"2099-01-01T00:00:00Z"}\n' "$(cat "$dir/$profile.token")"
  else
    echo "Error: A new access token could not be retrieved because the refresh token is invalid. To reauthenticate, run the following command: \$ databricks auth login --profile $profile" >&2
    exit 1
  fi ;;
"auth login")
  printf '\n[%s]\nhost = %s\nauth_type = databricks-cli\n' "$profile" "$host" >> "${DATABRICKS_CONFIG_FILE:-$HOME/.databrickscfg}"
  mv "$dir/next.token" "$dir/$profile.token" ;;
*) echo "fake databricks: unexpected $*" >&2; exit 2 ;;
esac
exit 0
'''


@pytest.fixture
def workspace():
    ws = Workspace().start()
    yield ws
    ws.stop()
    assert ws.errors == []


@pytest.fixture
def cli(tmp_path, monkeypatch):
    folder = tmp_path / "fake-cli"
    folder.mkdir()
    script = folder / "databricks"
    script.write_text(FAKE_CLI + "#" * (1100 * 1024) + "\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DATABRICKS_DIR", str(folder))
    return folder


@pytest.fixture(autouse=True)
def reset_mlflow():
    yield
    import mlflow
    mlflow.tracing.reset()
    mlflow.set_tracking_uri(None)
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)     # mlflow.set_experiment exports it


def write_config(text, path=None):
    path = Path(path or os.path.expanduser("~/.databrickscfg"))
    path.write_text(text)
    return path


def sign_in(workspace, cli, profile="ada", user=USER):
    """What `databricks auth login` leaves behind: a profile, and a token in the CLI's cache."""
    token = workspace.issue_user_token(user)
    (cli / f"{profile}.token").write_text(token)
    with open(os.path.expanduser("~/.databrickscfg"), "a") as f:
        f.write(f"\n[{profile}]\nhost = {workspace.host}\nauth_type = databricks-cli\n")
    return token


def all_text(repo):
    return "\n".join(p.read_text() for p in (repo / ".claude").glob("*.*")) + (repo / ".gitignore").read_text()


def team(repo):
    """The team's settings (.claude/traces.json) under their program names."""
    return traces.config_env(read_config(repo))


def machine(repo):
    """This machine's settings (.claude/traces.local.json) under their program names."""
    return traces.config_env(read_config(repo, local=True))


def link_path(experiment_id):
    return ("POST", f"/api/5.0/mlflow/experiments/{experiment_id}/trace-location:link")


# -- profiles ---------------------------------------------------------------------------------


def test_profiles_are_read_with_default_and_config_file_override(tmp_path, monkeypatch):
    write_config("[DEFAULT]\nhost = https://default.cloud.databricks.com\ntoken = dapi123\n\n"
                 "[__settings__]\ndefault_profile = ada\n\n"
                 "[ada]\nhost = https://ada.cloud.databricks.com/\nauth_type = databricks-cli\n\n"
                 "[bare]\nhost = https://bare.cloud.databricks.com\n\n"
                 "[robot]\nhost = https://r.cloud.databricks.com\nclient_id = abc\nclient_secret = s\n")
    profiles = traces.databricks_profiles()
    assert list(profiles) == ["DEFAULT", "ada", "bare", "robot"]
    assert profiles["DEFAULT"] == {"host": "https://default.cloud.databricks.com", "auth": "pat"}
    assert profiles["ada"] == {"host": "https://ada.cloud.databricks.com", "auth": "oauth"}
    # DEFAULT's token does not leak into the other profiles, as configparser would do by default.
    assert profiles["bare"]["auth"] == "oauth" and profiles["robot"]["auth"] == "m2m"

    other = write_config("[team]\nhost = https://team.cloud.databricks.com\nauth_type = databricks-cli\n",
                         tmp_path / "elsewhere.cfg")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(other))
    assert list(traces.databricks_profiles()) == ["team"]


def test_pat_profile_is_refused_with_the_oauth_login_command(repo, workspace, capsys):
    write_config(f"[old]\nhost = {workspace.host}\ntoken = dapi-secret-123\n")
    assert traces.main(["init", "--profile", "old", "--yes"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: profile 'old' signs in with a personal access token")
    assert f"databricks auth login --host {workspace.host} --profile old" in err and "--allow-pat" in err
    assert not (repo / ".claude").exists() and workspace.requests == []


def test_allow_pat_uses_the_profile_and_writes_no_token(repo, workspace):
    token = "dapi-" + "f" * 32
    workspace.tokens[token] = USER
    write_config(f"[old]\nhost = {workspace.host}\ntoken = {token}\n")
    assert traces.main(["init", "--profile", "old", "--allow-pat", "--yes"]) == 0
    assert token not in all_text(repo)
    assert machine(repo)["DATABRICKS_CONFIG_PROFILE"] == "old"


def test_unknown_profile_lists_the_known_ones(repo, capsys):
    write_config("[ada]\nhost = https://x.cloud.databricks.com\nauth_type = databricks-cli\n")
    assert traces.main(["init", "--profile", "nope", "--yes"]) == 1
    err = capsys.readouterr().err
    assert "no Databricks profile 'nope'" in err and "profiles: ada" in err


# -- init with a profile ------------------------------------------------------------------------


def test_init_creates_the_shared_experiment_and_places_settings(repo, workspace, cli, capsys):
    token = sign_in(workspace, cli)
    assert traces.main(["init", "--profile", "ada", "--yes"]) == 0
    out = capsys.readouterr().out
    path = "/Workspace/Shared/claude-code/acme/widgets"
    experiment_id = workspace.by_name(path)
    assert experiment_id and f"Created experiment {path}" in out and f"Signed in to {workspace.host} as {USER}" in out

    shared, local = team(repo), machine(repo)
    assert shared["MLFLOW_TRACKING_URI"] == "databricks"
    assert shared["MLFLOW_EXPERIMENT_NAME"] == path and shared["MLFLOW_EXPERIMENT_ID"] == experiment_id
    assert "DATABRICKS_CONFIG_PROFILE" not in shared and local["DATABRICKS_CONFIG_PROFILE"] == "ada"
    assert "MLFLOW_TRACKING_URI" not in local
    assert token not in all_text(repo) and "token" not in json.dumps(local).lower()
    # The folder was made through the workspace API before the experiment was created in it.
    assert workspace.requests.index(("POST", "/api/2.0/workspace/mkdirs")) < \
        workspace.requests.index(("POST", "/api/2.0/mlflow/experiments/create"))
    assert "auth token --profile ada" in (cli / "calls.log").read_text()


def test_init_reuses_an_existing_experiment(repo, workspace, cli):
    sign_in(workspace, cli)
    existing = workspace.add_experiment("/Workspace/Shared/claude-code/acme/widgets")
    assert traces.main(["init", "--profile", "ada", "--yes"]) == 0
    assert team(repo)["MLFLOW_EXPERIMENT_ID"] == existing
    assert ("POST", "/api/2.0/mlflow/experiments/create") not in workspace.requests
    assert len(workspace.experiments) == 1


@pytest.mark.parametrize("flags, path", [
    (["--personal"], f"/Workspace/Users/{USER}/claude-code/widgets"),
    (["-e", "team-x"], "/Workspace/Shared/claude-code/team-x"),
    (["--personal", "-e", "scratch"], f"/Workspace/Users/{USER}/claude-code/scratch"),
    (["-e", f"/Workspace/Users/{USER}/exp/cc"], f"/Workspace/Users/{USER}/exp/cc"),
    (["-e", "/Shared/ml/cc"], "/Workspace/Shared/ml/cc"),
])
def test_experiment_naming(repo, workspace, cli, flags, path):
    sign_in(workspace, cli)
    assert traces.main(["init", "--profile", "ada", "--yes", *flags]) == 0
    assert team(repo)["MLFLOW_EXPERIMENT_NAME"] == path and workspace.by_name(path)


def test_experiment_path_outside_the_workspace_is_refused():
    with pytest.raises(traces.TracesError, match="lives under /Workspace/Shared/"):
        traces.experiment_path("/tmp/x", USER, "acme/widgets", False)


def test_experiment_id_is_looked_up(repo, workspace, cli):
    sign_in(workspace, cli)
    existing = workspace.add_experiment("/Workspace/Shared/elsewhere")
    assert traces.main(["init", "--profile", "ada", "--experiment-id", existing, "--yes"]) == 0
    env = team(repo)
    assert env["MLFLOW_EXPERIMENT_ID"] == existing and env["MLFLOW_EXPERIMENT_NAME"] == "/Workspace/Shared/elsewhere"


def test_rerun_keeps_profile_and_experiment(repo, workspace, cli, capsys):
    sign_in(workspace, cli)
    assert traces.main(["init", "--profile", "ada", "--yes", "-e", "mine"]) == 0
    capsys.readouterr()
    assert traces.main(["init", "--yes"]) == 0
    assert "Nothing to change" in capsys.readouterr().out
    assert len(workspace.experiments) == 1


# -- service principal --------------------------------------------------------------------------


def test_spn_signs_in_with_oauth_m2m_and_writes_no_secret(repo, workspace, monkeypatch):
    secret = workspace.add_service_principal("11111111-2222-3333-4444-555555555555")
    monkeypatch.setenv("DATABRICKS_HOST", workspace.host)
    monkeypatch.setenv("DATABRICKS_CLIENT_ID", "11111111-2222-3333-4444-555555555555")
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", secret)
    assert traces.main(["init", "--spn", "--yes"]) == 0
    assert ("POST", "/oidc/v1/token") in workspace.requests
    text = all_text(repo)
    assert secret not in text and "DATABRICKS_CLIENT" not in text and "DATABRICKS_CONFIG_PROFILE" not in text
    assert team(repo)["MLFLOW_TRACKING_URI"] == "databricks"
    assert workspace.by_name("/Workspace/Shared/claude-code/acme/widgets")
    # CI re-runs `traces init --yes`: the principal from the environment is kept.
    assert traces.main(["init", "--yes"]) == 0


def test_spn_needs_its_environment(repo, capsys):
    assert traces.main(["init", "--spn", "--yes"]) == 1
    assert "set DATABRICKS_HOST, DATABRICKS_CLIENT_ID, DATABRICKS_CLIENT_SECRET" in capsys.readouterr().err


def test_spn_wrong_secret_is_named(repo, workspace, monkeypatch, capsys):
    workspace.add_service_principal("sp")
    monkeypatch.setenv("DATABRICKS_HOST", workspace.host)
    monkeypatch.setenv("DATABRICKS_CLIENT_ID", "sp")
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", "wrong")
    assert traces.main(["init", "--spn", "--yes"]) == 1
    err = capsys.readouterr().err
    assert "service principal" in err and "DATABRICKS_CLIENT_SECRET" in err
    assert not (repo / ".claude").exists()


# -- failures name their cause, and nothing is written -------------------------------------------


def test_expired_token_asks_for_the_exact_login(repo, workspace, cli, capsys):
    workspace.expired.add(sign_in(workspace, cli))
    assert traces.main(["init", "--profile", "ada", "--yes"]) == 1
    err = capsys.readouterr().err
    assert f"run `databricks auth login --host {workspace.host} --profile ada`" in err
    assert not (repo / ".claude").exists()


def test_expired_cli_login_asks_for_the_exact_login(repo, workspace, cli, capsys):
    sign_in(workspace, cli)
    (cli / "ada.token").unlink()          # the CLI's refresh token is gone: `auth token` fails
    assert traces.main(["init", "--profile", "ada", "--yes"]) == 1
    err = capsys.readouterr().err
    assert "expired" in err and f"run `databricks auth login --host {workspace.host} --profile ada`" in err
    assert not (repo / ".claude").exists()


def test_no_permission_on_the_folder(repo, workspace, cli, capsys):
    sign_in(workspace, cli)
    workspace.folders.add("/Workspace/Shared/claude-code/acme")
    workspace.read_only.add("/Workspace/Shared/claude-code")
    assert traces.main(["init", "--profile", "ada", "--yes"]) == 1
    err = capsys.readouterr().err
    assert "no permission while creating the experiment /Workspace/Shared/claude-code/acme/widgets" in err
    assert "--personal" in err and not (repo / ".claude").exists()
    assert ("POST", "/api/2.0/mlflow/experiments/create") in workspace.requests


def test_no_permission_to_create_the_folder(repo, workspace, cli, capsys):
    sign_in(workspace, cli)
    workspace.read_only.add("/Workspace/Shared/claude-code")
    assert traces.main(["init", "--profile", "ada", "--yes"]) == 1
    assert "no permission while creating the folder /Workspace/Shared/claude-code/acme" in capsys.readouterr().err


def test_unreachable_host(repo, cli, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (cli / "ada.token").write_text("whatever")
    write_config(f"[ada]\nhost = http://127.0.0.1:{port}\nauth_type = databricks-cli\n")
    started = time.monotonic()
    assert traces.main(["init", "--profile", "ada", "--yes"]) == 1
    assert time.monotonic() - started < 10
    assert f"cannot reach the Databricks workspace at http://127.0.0.1:{port}" in capsys.readouterr().err
    assert not (repo / ".claude").exists()


def test_oauth_profile_without_the_cli_says_how_to_install_it(repo, workspace, monkeypatch, capsys, tmp_path):
    write_config(f"[ada]\nhost = {workspace.host}\nauth_type = databricks-cli\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert traces.main(["init", "--profile", "ada", "--yes"]) == 1
    err = capsys.readouterr().err
    assert "signs in through the Databricks CLI, which is not on PATH" in err and "brew install databricks" in err


def test_missing_sdk_says_which_extra(repo, monkeypatch, capsys):
    import builtins
    real_import = builtins.__import__

    def no_sdk(name, *args, **kwargs):
        if name.startswith("databricks"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_sdk)
    write_config("[ada]\nhost = https://x.cloud.databricks.com\nauth_type = databricks-cli\n")
    monkeypatch.setattr(traces, "check_reachable", lambda host: None)
    assert traces.main(["init", "--profile", "ada", "--yes"]) == 1
    hint = traces.install_hint("databricks")        # the command that fits how this copy was installed
    assert capsys.readouterr().err == f"Error: this needs databricks-sdk — {hint}\n"
    assert "databricks-sdk>=0.40,<1" in hint


# -- interactive ----------------------------------------------------------------------------------


def test_interactive_add_a_new_workspace_runs_the_cli_login(repo, workspace, cli, monkeypatch, capsys):
    (cli / "next.token").write_text(workspace.issue_user_token(USER))
    # Claude Code, destination 3 (Databricks), n (new workspace), its URL, profile name, shared folder, path.
    monkeypatch.setattr("sys.stdin", io.StringIO(f"claude\n3\nn\n{workspace.host}\nwork\n1\n\n"))
    assert traces.main(["init"]) == 0
    out = capsys.readouterr().out
    assert f"Running `databricks auth login --host {workspace.host} --profile work`" in out
    assert machine(repo)["DATABRICKS_CONFIG_PROFILE"] == "work"
    assert team(repo)["MLFLOW_EXPERIMENT_NAME"] == "/Workspace/Shared/claude-code/acme/widgets"
    assert f"auth login --host {workspace.host} --profile work" in (cli / "calls.log").read_text()


def test_interactive_profile_list_and_personal_folder(repo, workspace, cli, monkeypatch, capsys):
    write_config(f"[old]\nhost = {workspace.host}\ntoken = dapi-x\n")
    sign_in(workspace, cli)
    monkeypatch.setattr("sys.stdin", io.StringIO("claude\n3\n2\n2\n\n"))    # Claude Code, Databricks, profile 2, personal
    assert traces.main(["init"]) == 0
    out = capsys.readouterr().out
    assert "1) old" in out and "(personal access token)" in out and "2) ada" in out and "(OAuth)" in out
    assert team(repo)["MLFLOW_EXPERIMENT_NAME"] == f"/Workspace/Users/{USER}/claude-code/widgets"


def test_interactive_add_a_workspace_without_the_cli(repo, monkeypatch, capsys, tmp_path):
    bin_dir = tmp_path / "bin-no-cli"
    bin_dir.mkdir()
    for tool in ("git", "sh"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr("sys.stdin", io.StringIO("claude\n3\nn\n"))
    assert traces.main(["init"]) == 1
    err = capsys.readouterr().err
    assert "needs the Databricks CLI" in err and "brew install databricks" in err


# -- the team's enrichments ------------------------------------------------------------------------


def test_first_init_tags_the_experiment_and_a_teammate_adopts_it(repo, workspace, cli, capsys):
    sign_in(workspace, cli)
    assert traces.main(["init", "--profile", "ada", "--yes", "--enrichments", "git,tokens"]) == 0
    experiment_id = workspace.by_name("/Workspace/Shared/claude-code/acme/widgets")
    assert workspace.experiments[experiment_id]["tags"]["claudetracing.enrichments"] == "git,tokens"

    # A teammate's clone: no settings yet (all enrichments by default), same experiment.
    shutil.rmtree(repo / ".claude")
    capsys.readouterr()
    assert traces.main(["init", "--profile", "ada", "--yes"]) == 0
    assert "using the team's choice recorded on the experiment (git,tokens)" in capsys.readouterr().out
    assert team(repo)["CLAUDETRACING_ENRICHMENTS"] == "git,tokens"

    # An explicit choice becomes the team's.
    assert traces.main(["init", "--profile", "ada", "--yes", "--enrichments", "git"]) == 0
    assert "it is now git" in capsys.readouterr().out
    assert workspace.experiments[experiment_id]["tags"]["claudetracing.enrichments"] == "git"


def test_status_warns_when_the_repository_differs_from_the_team(repo, workspace, cli):
    sign_in(workspace, cli)
    assert traces.main(["init", "--profile", "ada", "--yes", "--enrichments", "git"]) == 0
    status = traces.repo_status(str(repo), check_hook=False)
    assert status["problems"] == [] and status["backend"]["profile"] == "ada"
    assert traces.main(["enrichment", "add", "files"]) == 0
    problems = traces.repo_status(str(repo), check_hook=False)["problems"]
    assert len(problems) == 1 and "differ from the experiment's team setting (git)" in problems[0]


@pytest.mark.slow
def test_self_hosted_server_carries_the_team_enrichments(repo, mlflow_server, capsys):
    if mlflow_server.backend_store_uri.startswith("postgresql"):
        pytest.skip("one backend is enough")
    assert traces.main(["init", "--tracking-uri", mlflow_server.url, "--yes", "--enrichments", "cost"]) == 0
    assert traces.main(["enrichment", "add", "git"]) == 0
    problems = traces.repo_status(str(repo), check_hook=False)["problems"]
    assert any("differ from the experiment's team setting (cost)" in p for p in problems)
    shutil.rmtree(repo / ".claude")
    capsys.readouterr()
    assert traces.main(["init", "--tracking-uri", mlflow_server.url, "--yes"]) == 0
    assert "team's choice recorded on the experiment (cost)" in capsys.readouterr().out


# -- Unity Catalog trace location -------------------------------------------------------------------


def test_trace_location_is_linked_recorded_and_applied_by_the_uploader(repo, workspace, cli):
    sign_in(workspace, cli)
    assert traces.main(["init", "--profile", "ada", "--yes", "--trace-location", "main.agents.claude"]) == 0
    env = team(repo)
    experiment_id = env["MLFLOW_EXPERIMENT_ID"]
    assert env["CLAUDETRACING_TRACE_LOCATION"] == "main.agents.claude"
    assert workspace.trace_locations == {"main.agents.claude": experiment_id}

    import mlflow
    from mlflow.entities.trace_location import UnityCatalog
    from mlflow.tracing.provider import _MLFLOW_TRACE_USER_DESTINATION
    mlflow.tracing.reset()
    uploader = traces.Uploader({**env, **machine(repo)})
    links = workspace.requests.count(link_path(experiment_id))
    assert uploader.experiment() == experiment_id
    assert _MLFLOW_TRACE_USER_DESTINATION.get() == UnityCatalog("main", "agents", "claude")
    # Already linked by init: the uploader only reads the link back from the experiment.
    assert workspace.requests.count(link_path(experiment_id)) == links


def test_trace_location_needs_databricks_and_the_right_shape(repo, workspace, cli, capsys):
    assert traces.main(["init", "--local", "--yes", "--trace-location", "a.b.c"]) == 1
    assert "needs a Databricks workspace" in capsys.readouterr().err
    sign_in(workspace, cli)
    assert traces.main(["init", "--profile", "ada", "--yes", "--trace-location", "a.b"]) == 1
    assert "catalog.schema.table_prefix" in capsys.readouterr().err
