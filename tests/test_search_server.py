"""Reading a self-hosted `mlflow server` (SQLite and PostgreSQL backends) through its REST API
with urllib gives exactly what the mlflow client gives: same traces, order, tags and spans."""

import json
import os
import time

import pytest
import trace_store

import traces

HOUR = 3600
PLAN = [
    ("acme/widgets", "aaaaaaaa-0000-4000-8000-000000000011", 1 * HOUR, "main", "newest"),
    ("acme/widgets", "bbbbbbbb-0000-4000-8000-000000000012", 30 * HOUR, "feature-x", "yesterday"),
    ("acme/other", "dddddddd-0000-4000-8000-000000000014", 2 * HOUR, "main", "elsewhere"),
]
SAME_OUTPUT = [
    ["search"], ["search", "-l", "0"], ["search", "--all", "-l", "0"], ["search", "--branch", "feature-x"],
    ["search", "--tool", "Bash"], ["search", "--status", "error"], ["search", "--session", "bbbb"],
    ["search", "-f", "json", "-l", "0"], ["search", "-f", "context"], ["search", "-f", "tools", "-l", "0"],
    ["report", "--json"], ["report", "--by", "model"], ["list"],
]


def test_the_rest_reader_answers_exactly_as_mlflow(mlflow_server, repo, tmp_path, capsys, monkeypatch):
    if not trace_store.recorded_sessions():
        pytest.skip("no recorded Claude Code transcripts")
    now = time.time()
    (tmp_path / "fill").mkdir()
    trace_store.fill(tmp_path / "fill", [(e, s, now - ago, b, label) for e, s, ago, b, label in PLAN],
                     uri=mlflow_server.url)
    (repo / ".claude").mkdir()
    (repo / ".claude" / "traces.json").write_text(json.dumps({"tracking_uri": mlflow_server.url,
                                                             "experiment": "acme/widgets"}))
    monkeypatch.chdir(repo)
    assert isinstance(traces.Backend(str(repo)).client, traces.ServerStore)
    for argv in SAME_OUTPUT:
        monkeypatch.setenv("CLAUDETRACING_READER", "mlflow")
        code, through_mlflow = traces.main(argv), capsys.readouterr().out
        monkeypatch.delenv("CLAUDETRACING_READER")
        assert (code, through_mlflow) == (traces.main(argv), capsys.readouterr().out), argv
        assert "No traces found" not in through_mlflow, argv
    found = json.loads((traces.main(["search", "-f", "json", "--all", "-l", "0"]), capsys.readouterr().out)[1])
    assert len(found["traces"]) >= len(PLAN) and all(t["spans"] for t in found["traces"])
    # Spans of many traces come in one request.
    ids = [t["trace_id"] for t in found["traces"]][::-1]
    batch = traces.ServerStore(mlflow_server.url, {}).batch_get_traces(ids)
    assert [t.info.trace_id for t in batch] == ids and all(t.data.spans for t in batch)


def test_a_quick_server_search_does_not_import_mlflow(mlflow_server, repo, tmp_path):
    if mlflow_server.backend_store_uri.startswith("postgresql"):
        pytest.skip("one backend is enough here")
    import subprocess
    import sys
    (tmp_path / "fill").mkdir()
    trace_store.fill(tmp_path / "fill", [PLAN[0][:2] + (time.time() - HOUR,) + PLAN[0][3:]], uri=mlflow_server.url)
    (repo / ".claude").mkdir()
    (repo / ".claude" / "traces.json").write_text(json.dumps({"tracking_uri": mlflow_server.url,
                                                             "experiment": "acme/widgets"}))
    code = "import sys, traces; traces.main(['search', '-f', 'json']); print('mlflow' in sys.modules, file=sys.stderr)"
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.path.dirname(traces.__file__)})
    assert done.returncode == 0 and json.loads(done.stdout)["traces"], done.stderr
    assert done.stderr.strip() == "False"


def test_the_rest_reader_reads_agents_as_mlflow(mlflow_server, repo, tmp_path, capsys, monkeypatch):
    """A second agent on a server: --agent on search, report and list, untagged turns counted as
    Claude Code's, each turn named by its agent unless all shown are Claude Code's; the REST reader as the mlflow client."""
    if not trace_store.recorded_sessions():
        pytest.skip("no recorded Claude Code transcripts")
    now = time.time()
    (tmp_path / "fill").mkdir()
    trace_store.fill(tmp_path / "fill", [(e, s, now - ago, b, label) for e, s, ago, b, label in PLAN],
                     uri=mlflow_server.url)
    from mlflow import MlflowClient
    client = MlflowClient(mlflow_server.url)
    experiment = client.get_experiment_by_name("acme/widgets").experiment_id
    newest, older = [t.info for t in client.search_traces(locations=[experiment], order_by=["timestamp_ms DESC"])]
    client.set_trace_tag(newest.trace_id, traces.TAG_AGENT, "codex")
    client.delete_trace_tag(older.trace_id, traces.TAG_AGENT)
    (repo / ".claude").mkdir()
    (repo / ".claude" / "traces.json").write_text(json.dumps({"tracking_uri": mlflow_server.url,
                                                             "experiment": "acme/widgets"}))
    monkeypatch.chdir(repo)
    outputs = {}
    for argv in (["search"], ["search", "--agent", "claude"], ["search", "-f", "context", "--agent", "codex"],
                 ["search", "-e", "acme/other"], ["report", "--agent", "claude", "--by", "branch", "--json"],
                 ["report", "--by", "agent", "--json"], ["list", "--agent", "claude"], ["list", "--agent", "codex"],
                 ["list", "--agent", "gemini"]):
        monkeypatch.setenv("CLAUDETRACING_READER", "mlflow")
        code, through_mlflow = traces.main(argv), capsys.readouterr().out
        monkeypatch.delenv("CLAUDETRACING_READER")
        assert (code, through_mlflow) == (traces.main(argv), capsys.readouterr().out), argv
        outputs[" ".join(argv)] = through_mlflow
    assert [line.split()[-1] for line in outputs["search"].splitlines() if line[:1].isdigit()] == ["codex", "claude"]
    assert older.trace_id in outputs["search --agent claude"] and newest.trace_id not in outputs["search --agent claude"]
    assert outputs["search -f context --agent codex"].count(" · agent codex\n") == 1     # never unnamed
    assert " agent " not in outputs["search -e acme/other"].splitlines()[0]
    assert json.loads(outputs["report --agent claude --by branch --json"])["total"]["turns"] == 1
    assert {r["key"]: r["turns"] for r in json.loads(outputs["report --by agent --json"])["rows"]} == {"claude": 1, "codex": 1}

    def last_trace(argv):        # a server has no count: the date of the agent's newest trace
        [line] = [line for line in outputs[argv].splitlines() if " acme/widgets " in line]
        return line.split("acme/widgets")[1].split()
    assert last_trace("list --agent codex") == ["-", *time.strftime("%Y-%m-%d %H:%M", time.localtime(newest.request_time / 1000)).split()]
    assert last_trace("list --agent claude") == ["-", *time.strftime("%Y-%m-%d %H:%M", time.localtime(older.request_time / 1000)).split()]
    assert last_trace("list --agent gemini") == ["-", "-"]
