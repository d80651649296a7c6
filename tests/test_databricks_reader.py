"""Reading traces from Databricks over its REST API with urllib gives exactly what the mlflow
client gives, without importing mlflow or databricks-sdk.

The workspace is the stand-in (tests/databricks_standin.py): it checks each request as Databricks
would and forwards trace searches to a real `mlflow server` that the engine filled, under the
same experiment ids. The mlflow client reaches it through databricks-sdk and the fake CLI.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest
import trace_store
from databricks_standin import Workspace
from servers import MlflowServer
from test_databricks import USER, cli, sign_in  # noqa: F401 - cli is a fixture

import traces

pytest.importorskip("databricks.sdk")
HOUR = 3600
SHARED = "/Workspace/Shared/claude-code/acme/"
PLAN = [
    (SHARED + "widgets", "aaaaaaaa-0000-4000-8000-000000000021", 1 * HOUR, "main", "newest"),
    (SHARED + "widgets", "bbbbbbbb-0000-4000-8000-000000000022", 30 * HOUR, "feature-x", "yesterday"),
    (SHARED + "other", "dddddddd-0000-4000-8000-000000000024", 2 * HOUR, "main", "elsewhere"),
]
SAME_OUTPUT = [
    ["search"], ["search", "-l", "0"], ["search", "--all", "-l", "0"], ["search", "--branch", "feature-x"],
    ["search", "--tool", "Bash"], ["search", "--session", "bbbb"],
    ["report", "--json"], ["report", "--by", "model"], ["report", "--by", "block", "--until", "1d", "--json"], ["list"],
]


@pytest.fixture(scope="module")
def backing(tmp_path_factory):
    """An mlflow server holding the traces, its experiments named as Databricks paths."""
    if not trace_store.recorded_sessions():
        pytest.skip("no recorded Claude Code transcripts")
    import mlflow
    folder = tmp_path_factory.mktemp("databricks-fill")
    now = time.time()
    with MlflowServer() as server:
        trace_store.fill(folder, [(e, s, now - ago, b, label) for e, s, ago, b, label in PLAN], uri=server.url)
        mlflow.tracing.reset()
        mlflow.set_tracking_uri(None)
        yield server


@pytest.fixture
def workspace(backing):
    """The stand-in workspace, knowing the backing server's experiments under their ids."""
    ws = Workspace(backing=backing.url).start()
    request = urllib.request.Request(backing.url + "/api/2.0/mlflow/experiments/search", method="POST",
                                     data=b'{"max_results": 100}', headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        for experiment in json.loads(response.read())["experiments"]:
            if experiment["name"].startswith("/Workspace/"):
                ws.add_experiment(experiment["name"], experiment_id=experiment["experiment_id"])
    yield ws
    ws.stop()
    assert ws.errors == []


def configure(repo, tracking_uri="databricks", profile="ada"):
    """The repository's settings as init writes them: the team's file and this machine's."""
    (repo / ".claude").mkdir(exist_ok=True)
    (repo / ".claude" / "traces.json").write_text(json.dumps({"tracking_uri": tracking_uri,
                                                             "experiment": SHARED + "widgets"}))
    if profile:
        (repo / ".claude" / "traces.local.json").write_text(json.dumps({"databricks_profile": profile}))


def test_the_rest_reader_answers_exactly_as_mlflow(workspace, cli, repo, capsys, monkeypatch):  # noqa: F811
    sign_in(workspace, cli)
    configure(repo, "databricks://ada", profile=None)
    assert isinstance(traces.Backend(str(repo)).client, traces.DatabricksStore)
    for argv in SAME_OUTPUT:
        monkeypatch.setenv("CLAUDETRACING_READER", "mlflow")
        code, through_mlflow = traces.main(argv), capsys.readouterr().out
        monkeypatch.delenv("CLAUDETRACING_READER")
        assert (code, through_mlflow) == (traces.main(argv), capsys.readouterr().out), argv
        assert "No traces found" not in through_mlflow, argv
    # Both readers searched through V3; the mlflow client tried V4 first, as on a workspace without it.
    assert ("POST", "/api/4.0/mlflow/traces/search-long-running") in workspace.requests
    assert ("POST", "/api/3.0/mlflow/traces/search") in workspace.requests


def test_a_trace_location_keeps_the_mlflow_client(workspace, repo, monkeypatch):
    configure(repo)
    settings = json.loads((repo / ".claude" / "traces.json").read_text())
    (repo / ".claude" / "traces.json").write_text(json.dumps({**settings, "trace_location": "main.agents.claude"}))
    opened = []
    monkeypatch.setattr(traces, "open_store", opened.append)
    assert not isinstance(traces.Backend(str(repo)).client, traces.DatabricksStore)
    assert opened == ["databricks"]


def summary_search(repo, env):
    """`traces search` in a new process: its output, then whether mlflow and databricks-sdk were imported."""
    code = "import sys, traces; code = traces.main(['search']); print('mlflow' in sys.modules, 'databricks.sdk' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True,
                          env={**env, "PYTHONPATH": os.path.dirname(traces.__file__)})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_quick_search_imports_neither_mlflow_nor_the_sdk(workspace, cli, repo):  # noqa: F811
    sign_in(workspace, cli)
    configure(repo)
    out = summary_search(repo, dict(os.environ))
    assert "[newest]" in out and out.rstrip().endswith("False False"), out
    assert "auth token --profile ada" in (cli / "calls.log").read_text()

    # A service principal in CI: OAuth M2M through the workspace's OIDC endpoint.
    secret = workspace.add_service_principal("11111111-2222-3333-4444-555555555555")
    configure(repo, profile=None)
    (repo / ".claude" / "traces.local.json").unlink()
    env = {**os.environ, "DATABRICKS_HOST": workspace.host, "DATABRICKS_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
           "DATABRICKS_CLIENT_SECRET": secret}
    before = workspace.requests.count(("POST", "/oidc/v1/token"))
    out = summary_search(repo, env)
    assert "[newest]" in out and out.rstrip().endswith("False False"), out
    assert workspace.requests.count(("POST", "/oidc/v1/token")) == before + 1
    assert secret not in out


def test_a_pat_is_used_as_it_is(workspace, repo, capsys):
    token = "dapi-" + "e" * 32
    workspace.tokens[token] = USER
    with open(os.path.expanduser("~/.databrickscfg"), "w") as f:
        f.write(f"[old]\nhost = {workspace.host}\ntoken = {token}\n")
    configure(repo, profile="old")
    assert traces.main(["search", "-l", "1"]) == 0
    out = capsys.readouterr().out
    assert "[newest]" in out and token not in out


@pytest.mark.parametrize("failure", ["expired", "cli"])
def test_a_refused_login_names_the_login_command(workspace, cli, repo, capsys, failure):  # noqa: F811
    token = sign_in(workspace, cli)
    if failure == "expired":
        workspace.expired.add(token)      # the workspace refuses it: HTTP 401
    else:
        (cli / "ada.token").unlink()      # the CLI cannot refresh the login
    configure(repo)
    assert traces.main(["search"]) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"Error: your Databricks login (profile 'ada') has expired or was refused at "
                              f"{workspace.host}: run `databricks auth login --host {workspace.host} --profile ada`, "
                              f"then try again\n")


def test_spans_come_through_the_mlflow_client(workspace, cli, repo, monkeypatch):  # noqa: F811
    sign_in(workspace, cli)
    configure(repo)
    backend = traces.Backend(str(repo))
    asked = []

    class Client:
        def get_trace(self, trace_id, display=False):
            asked.append(trace_id)
            return trace_id
    backend.client._mlflow = Client()
    assert backend.traces(["tr-1", "tr-2"]) == ["tr-1", "tr-2"] and asked == ["tr-1", "tr-2"]
    assert workspace.requests == []           # no token needed, none minted


@pytest.mark.parametrize("profile, env, expected", [
    ("token = dapi-p\n", {}, ("pat", "dapi-p")),
    ("token = dapi-p\n", {"DATABRICKS_TOKEN": "dapi-e"}, ("pat", "dapi-e")),       # the environment first
    ("auth_type = databricks-cli\n", {}, ("cli", "ada")),
    ("auth_type = databricks-cli\n", {"DATABRICKS_TOKEN": "dapi-e"}, ("cli", "ada")),  # an explicit type wins
    ("client_id = sp\nclient_secret = s\n", {}, ("m2m", "sp", "s")),
    ("auth_type = azure-cli\n", {}, ("sdk", "ada")),
    ("", {"DATABRICKS_CLIENT_ID": "sp", "DATABRICKS_CLIENT_SECRET": "s"}, ("m2m", "sp", "s")),
])
def test_the_token_comes_from_where_the_sdk_would_take_it(monkeypatch, profile, env, expected):
    with open(os.path.expanduser("~/.databrickscfg"), "w") as f:
        f.write(f"[ada]\nhost = https://ada.cloud.databricks.com\n{profile}")
    monkeypatch.setattr(traces, "cli_token", lambda host, profile: ("cli", profile))
    monkeypatch.setattr(traces, "client_credentials_token", lambda host, client, secret: ("m2m", client, secret))
    monkeypatch.setattr(traces, "sdk_token", lambda host, profile: ("sdk", profile))
    token = traces.databricks_token(env, "https://ada.cloud.databricks.com", "ada")
    assert token == (expected if expected[0] != "pat" else expected[1])


def test_other_sign_ins_go_through_the_sdk(workspace):
    secret = workspace.add_service_principal("robot")
    with open(os.path.expanduser("~/.databrickscfg"), "w") as f:
        f.write(f"[robot]\nhost = {workspace.host}\nauth_type = oauth-m2m\nclient_id = robot\nclient_secret = {secret}\n")
    token = traces.sdk_token(workspace.host, "robot")
    assert workspace.tokens[token] == "robot"
