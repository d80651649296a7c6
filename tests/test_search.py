"""Reading traces back: list, search (every filter and format), report, against a real store.

One SQLite MLflow store is filled once per test session by the engine itself, from the
recorded Claude Code 2.1.330 sessions varied in time, branch and session id (trace_store.py).
"""

import json
import os
import time

import pytest
import trace_store
from mlflow_versions import HOUR, PLAN  # the store both test files fill

import traces


@pytest.fixture(scope="session")
def store(tmp_path_factory):
    """{uri, infos: {experiment: [TraceInfo newest first]}} of a store filled by the engine."""
    if not trace_store.recorded_sessions():
        pytest.skip(f"no recorded Claude Code transcripts in {trace_store.RECORDED}")
    folder = tmp_path_factory.mktemp("store")
    now = time.time()
    uri = trace_store.fill(folder, [(e, s, now - ago, b, label) for e, s, ago, b, label in PLAN])
    from mlflow import MlflowClient
    client = MlflowClient(uri)
    infos = {}
    for name in ("acme/widgets", "acme/other"):
        experiment = client.get_experiment_by_name(name)
        found = client.search_traces(locations=[experiment.experiment_id], max_results=1000,
                                     order_by=["timestamp_ms DESC"], include_spans=False)
        infos[name] = [t.info for t in found]
    assert len(infos["acme/widgets"]) >= 3, "the engine traced too little to test with"
    return {"uri": uri, "infos": infos, "folder": folder}


@pytest.fixture
def reader(store, repo, monkeypatch):
    """The test repository configured (like init does) to read the shared store."""
    (repo / ".claude").mkdir()
    (repo / ".claude" / "traces.json").write_text(json.dumps({"tracking_uri": store["uri"], "experiment": "acme/widgets"}))
    return store


def run(capsys, *argv):
    code = traces.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def ids(out):
    return [word for word in out.split() if word.startswith("tr-")]


def session_of(info):
    return info.trace_metadata["mlflow.trace.session"]


# --- search: scope and filters --------------------------------------------------------------

def test_default_search_shows_this_repositorys_newest_turns(reader, capsys):
    code, out, err = run(capsys, "search")
    assert code == 0 and err == ""
    expected = [i.trace_id for i in reader["infos"]["acme/widgets"]][:10]
    assert ids(out) == expected
    assert "elsewhere" not in out                         # the other experiment's turn
    assert "[newest]" in out.split("\n\n")[0]             # newest first


def test_limit(reader, capsys):
    _, out, _ = run(capsys, "search", "-l", "2")
    assert ids(out) == [i.trace_id for i in reader["infos"]["acme/widgets"]][:2]


def test_hours_and_since(reader, capsys):
    recent = [i for i in reader["infos"]["acme/widgets"] if i.request_time > (time.time() - 5 * HOUR) * 1000]
    _, out, _ = run(capsys, "search", "--hours", "5")
    assert recent and set(ids(out)) == {i.trace_id for i in recent}
    since = time.strftime("%Y-%m-%dT%H:%M", time.localtime(time.time() - 3 * 24 * HOUR))
    _, out, _ = run(capsys, "search", "--since", since, "-l", "0")
    assert "[old]" not in out and "[yesterday]" in out and "[newest]" in out


def test_since_takes_a_zone_and_rejects_nonsense(reader, capsys):
    _, out, _ = run(capsys, "search", "--since", "2000-01-01T00:00:00+00:00", "-l", "0")
    assert len(ids(out)) == len(reader["infos"]["acme/widgets"])
    with pytest.raises(SystemExit) as exit_:
        traces.main(["search", "--since", "last tuesday"])
    assert exit_.value.code == 2
    assert "not a date" in capsys.readouterr().err


def test_session_filter_takes_a_prefix(reader, capsys):
    _, out, _ = run(capsys, "search", "--session", "bbbbbbbb")
    wanted = [i.trace_id for i in reader["infos"]["acme/widgets"] if session_of(i).startswith("bbbbbbbb")]
    assert wanted and ids(out) == wanted
    assert "[yesterday]" in out and "[newest]" not in out


def test_branch_filter(reader, capsys):
    _, out, _ = run(capsys, "search", "--branch", "feature-x")
    wanted = [i.trace_id for i in reader["infos"]["acme/widgets"] if i.tags.get("git.branch") == "feature-x"]
    assert wanted and ids(out) == wanted


def test_tool_filter_is_exact(reader, capsys):
    infos = reader["infos"]["acme/widgets"]
    used = {name for i in infos for name in json.loads(i.tags[traces.TAG_TOOLS])}
    assert used, "the recordings call no tools"
    tool = sorted(used)[0]
    _, out, _ = run(capsys, "search", "--tool", tool, "-l", "0")
    assert ids(out) == [i.trace_id for i in infos if tool in json.loads(i.tags[traces.TAG_TOOLS])]
    _, out, _ = run(capsys, "search", "--tool", tool[:-1])          # a prefix is another tool
    assert ids(out) == [] and "No traces found" in out


def test_file_filter_matches_relative_paths_folders_and_tails(reader, repo, capsys):
    infos = reader["infos"]["acme/widgets"]
    changed = [i for i in infos if json.loads(i.tags.get("files.modified", "[]"))]
    if not changed:
        pytest.skip("the recordings change no files")
    path = json.loads(changed[0].tags["files.modified"])[0]
    want = [i.trace_id for i in infos if path in json.loads(i.tags.get("files.modified", "[]"))]
    _, out, _ = run(capsys, "search", "--file", path, "-l", "0")
    assert ids(out) == want
    _, out, _ = run(capsys, "search", "--file", os.path.basename(path), "-l", "0")
    assert ids(out) == want
    _, out, _ = run(capsys, "search", "--file", "no/such/file.txt")
    assert ids(out) == []


def test_status_filter(reader, capsys):
    infos = reader["infos"]["acme/widgets"]
    for status in ("ok", "error"):
        _, out, _ = run(capsys, "search", "--status", status, "-l", "0")
        assert ids(out) == [i.trace_id for i in infos if i.tags.get("claudetracing.status") == status]
    assert any(i.tags.get("claudetracing.status") == "error" for i in infos), "no failed tool call recorded"


def test_filters_combine(reader, capsys):
    _, out, _ = run(capsys, "search", "--branch", "main", "--hours", "5", "-l", "0")
    wanted = [i.trace_id for i in reader["infos"]["acme/widgets"]
              if i.tags.get("git.branch") == "main" and i.request_time > (time.time() - 5 * HOUR) * 1000]
    assert wanted and ids(out) == wanted


def test_trace_id(reader, capsys):
    info = reader["infos"]["acme/other"][0]
    _, out, _ = run(capsys, "search", "--trace-id", info.trace_id)   # ids are global: any experiment
    assert ids(out) == [info.trace_id] and "[elsewhere]" in out


def test_experiment_and_all(reader, capsys):
    _, out, _ = run(capsys, "search", "-e", "acme/other")
    assert ids(out) == [i.trace_id for i in reader["infos"]["acme/other"]]
    _, out, _ = run(capsys, "search", "--all", "-l", "0")
    assert set(ids(out)) == {i.trace_id for infos in reader["infos"].values() for i in infos}


# --- search: formats ------------------------------------------------------------------------

def test_summary_shows_each_turn_from_tags(reader, capsys):
    info = reader["infos"]["acme/widgets"][0]
    _, out, _ = run(capsys, "search", "-l", "1")
    assert "\033[" not in out                                   # not a terminal: no colour
    tags = info.tags
    assert info.request_preview.splitlines()[0].strip() in out
    assert session_of(info) in out and f"branch {tags['git.branch']}" in out
    assert f"{int(tags['tokens.total']):,}" in out
    assert info.trace_metadata["claudetracing.models"].split(",")[0] in out
    for name in json.loads(tags[traces.TAG_TOOLS]):
        assert name in out
    if "cost.usd" in tags:
        assert f"${float(tags['cost.usd']):.4f}" in out
    if int(tags[traces.TAG_TOOL_ERRORS]):
        assert f"{tags[traces.TAG_TOOL_ERRORS]} error" in out
    labels = [line.split()[0] for line in out.splitlines()[1:] if line.startswith("  ")]
    assert labels[:5] == ["prompt", "session", "took", "tokens", "tools"]


def test_json_is_stable_and_complete(reader, capsys):
    info = reader["infos"]["acme/widgets"][0]
    _, first, err = run(capsys, "search", "-f", "json", "--trace-id", info.trace_id)
    _, second, _ = run(capsys, "search", "-f", "json", "--trace-id", info.trace_id)
    assert first == second and err == ""
    [trace] = json.loads(first)["traces"]
    assert trace["trace_id"] == info.trace_id and trace["tags"] == dict(info.tags)
    assert trace["metadata"]["mlflow.trace.session"] == session_of(info)
    root = trace["spans"][0]
    assert root["name"] == traces.AGENTS["claude"]["root_span"] and root["parent_id"] is None
    assert root["inputs"]["prompt"].startswith(info.request_preview.splitlines()[0])
    names = [s["name"] for s in trace["spans"]]
    assert "llm" in names and any(n.startswith("tool_") for n in names)
    llm = next(s for s in trace["spans"] if s["name"] == "llm")
    assert llm["attributes"]["mlflow.llm.model"] and "mlflow.spanInputs" not in llm["attributes"]
    assert all(s["parent_id"] in {x["span_id"] for x in trace["spans"]} for s in trace["spans"][1:])


def test_json_with_no_match_is_still_json(reader, capsys):
    code, out, err = run(capsys, "search", "-f", "json", "--branch", "nope")
    assert code == 0 and json.loads(out) == {"traces": []} and "No traces found" in err


def test_context_is_markdown_newest_first(reader, capsys):
    _, out, _ = run(capsys, "search", "-f", "context", "-l", "0")
    infos = reader["infos"]["acme/widgets"]
    assert out.startswith("# Claude Code turns")
    assert out.count("\n## ") == len(infos)
    assert out.index("[newest]") < out.index("[yesterday]") < out.index("[old]")
    assert "Prompt:" in out and "Outcome:" in out and "Done: tools" in out and "truncated" not in out


def test_context_respects_the_budget_with_a_marker(reader, capsys):
    _, full, _ = run(capsys, "search", "-f", "context", "-l", "0")
    budget = len(full) // 2
    _, out, _ = run(capsys, "search", "-f", "context", "-l", "0", "--max-chars", str(budget))
    assert len(out) <= budget
    body = out.rstrip("\n").splitlines()
    assert body[-1].startswith("[truncated at --max-chars")
    full_lines = set(full.splitlines())
    assert all(line in full_lines for line in body[:-1])      # whole lines only


def test_tools_counts_spans_including_subagents(reader, capsys):
    infos = reader["infos"]["acme/widgets"]
    _, out, _ = run(capsys, "search", "-f", "tools", "-l", "0")
    expected = {}
    for i in infos:                      # the tools tag counts subagents' calls too
        for name, n in json.loads(i.tags[traces.TAG_TOOLS]).items():
            expected[name] = expected.get(name, 0) + n
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:-1]}
    assert {name: int(row[1]) for name, row in rows.items()} == expected
    errors = sum(int(i.tags[traces.TAG_TOOL_ERRORS]) for i in infos)
    assert sum(int(row[2]) for row in rows.values()) == errors
    assert out.splitlines()[-1].endswith(f"in {len(infos)} turn(s)")


# --- search: nothing found and errors -------------------------------------------------------

def test_no_match_says_so_and_exits_zero(reader, capsys):
    code, out, _ = run(capsys, "search", "--branch", "no-such-branch")
    assert code == 0 and out.startswith("No traces found")


def test_missing_trace_id(reader, capsys):
    code, out, err = run(capsys, "search", "--trace-id", "tr-00000000000000000000000000000000")
    assert code == 1 and out == ""
    assert err.startswith("Error: there is no trace tr-0000") and "traces search" in err


def test_missing_experiment(reader, capsys):
    code, _, err = run(capsys, "search", "-e", "acme/nothing")
    assert code == 1 and err.startswith("Error: experiment 'acme/nothing' does not exist") and "traces list" in err


def test_unreachable_backend(repo, capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    (repo / ".claude").mkdir()
    (repo / ".claude" / "settings.json").write_text(json.dumps(
        {"env": {"MLFLOW_TRACKING_URI": "http://127.0.0.1:9", "MLFLOW_EXPERIMENT_NAME": "acme/widgets"}}))
    started = time.time()
    for command in (["search"], ["list"], ["report"]):
        code, out, err = run(capsys, *command)
        assert code == 1 and err.startswith("Error: cannot ") and "http://127.0.0.1:9" in err, (command, err)
        assert "Traceback" not in err
    assert time.time() - started < 60


def test_no_local_store_yet(repo, capsys):
    code, _, err = run(capsys, "search")
    assert code == 1 and "no local store" in err and "traces init" in err
    assert not os.path.exists(os.path.join(os.environ["TRACES_HOME"], "mlflow.db"))   # not created


# --- list -----------------------------------------------------------------------------------

def test_list_marks_this_repositorys_experiment(reader, capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    rows = {line[2:].split()[1]: line for line in out.splitlines()[1:-1]}
    mine = rows["acme/widgets"]
    assert mine.startswith("*") and not rows["acme/other"].startswith("*")
    assert f" {len(reader['infos']['acme/widgets'])} " in mine
    newest = reader["infos"]["acme/widgets"][0].request_time
    assert time.strftime("%Y-%m-%d %H:%M", time.localtime(newest / 1000)) in mine
    assert [line[2:].split()[1] for line in out.splitlines()[1:-1]][-1] == "Default"   # no traces: last


# --- report ---------------------------------------------------------------------------------

def sums(infos):
    total = {k: sum(int(i.tags.get(f"tokens.{k}", 0)) for i in infos)
             for k in ("input", "output", "cache_read", "cache_creation", "total")}
    cost = sum(float(i.tags["cost.usd"]) for i in infos if "cost.usd" in i.tags)
    return total, cost


@pytest.mark.parametrize("by", ["day", "session", "model", "branch", "user"])
def test_report_totals_equal_the_sum_of_the_tags(reader, capsys, by):
    code, out, _ = run(capsys, "report", "--by", by, "--json")
    assert code == 0
    report = json.loads(out)
    infos = reader["infos"]["acme/widgets"]
    tokens, cost = sums(infos)
    assert report["total"]["turns"] == len(infos)
    assert report["total"]["tokens"] == tokens
    assert report["total"]["cost_usd"] == pytest.approx(cost, abs=1e-6)
    assert sum(r["turns"] for r in report["rows"]) == len(infos)
    assert sum(r["tokens"]["total"] for r in report["rows"]) == tokens["total"]


def test_report_by_branch_rows(reader, capsys):
    _, out, _ = run(capsys, "report", "--by", "branch", "--json")
    rows = {r["key"]: r for r in json.loads(out)["rows"]}
    for branch in ("main", "feature-x"):
        infos = [i for i in reader["infos"]["acme/widgets"] if i.tags.get("git.branch") == branch]
        assert rows[branch]["turns"] == len(infos)
        assert rows[branch]["tokens"] == sums(infos)[0]


def test_report_table_since_and_all(reader, capsys):
    since = time.strftime("%Y-%m-%d", time.localtime(time.time() - 3 * 24 * HOUR))
    _, out, _ = run(capsys, "report", "--since", since)
    recent = [i for i in reader["infos"]["acme/widgets"]
              if i.request_time >= time.mktime(time.strptime(since, "%Y-%m-%d")) * 1000]
    total_line = out.splitlines()[-1] if not out.splitlines()[-1].startswith("*") else out.splitlines()[-2]
    assert total_line.split()[:2] == ["TOTAL", str(len(recent))]
    assert f"{sums(recent)[0]['total']:,}" in total_line
    _, out, _ = run(capsys, "report", "--all", "--json")
    assert json.loads(out)["total"]["turns"] == sum(len(v) for v in reader["infos"].values())


# -- the standard-library reader ---------------------------------------------------------------

SAME_OUTPUT = [
    ["search"], ["search", "-l", "2"], ["search", "-l", "0"], ["search", "--all", "-l", "0"],
    ["search", "--branch", "feature-x"], ["search", "--tool", "Bash"], ["search", "--status", "error"],
    ["search", "--session", "bbbb"], ["search", "--hours", "48"], ["search", "--file", "notes.txt"],
    ["search", "-e", "acme/other"], ["search", "-f", "json", "-l", "0"], ["search", "-f", "json", "--all"],
    ["search", "-f", "context", "-l", "0"], ["search", "-f", "tools", "-l", "0"], ["report", "--json"],
    ["report", "--by", "session", "--json"], ["report", "--by", "model"], ["report", "--by", "user", "--json"],
    ["report", "--by", "branch", "--since", "2026-01-01", "--json"], ["list"],
    ["report", "--by", "block", "--until", "2d", "--breakdown", "--json"], ["report", "--by", "week", "--since", "40h"],
]


@pytest.mark.parametrize("argv", SAME_OUTPUT, ids=" ".join)
def test_the_stdlib_reader_answers_exactly_as_mlflow(reader, capsys, monkeypatch, argv):
    """Same traces, same order, same tags, metadata and spans: the local store read with sqlite3
    gives, byte for byte, what the mlflow client gives."""
    monkeypatch.setenv("CLAUDETRACING_READER", "mlflow")
    code, through_mlflow, _ = run(capsys, *argv)
    monkeypatch.delenv("CLAUDETRACING_READER")
    assert isinstance(traces.Backend(os.getcwd()).client, traces.LocalStore)
    code2, fast, _ = run(capsys, *argv)
    assert (code, through_mlflow) == (code2, fast)
    assert "No traces found" not in fast


@pytest.mark.parametrize("argv", [a for a in SAME_OUTPUT if a[0] == "report"], ids=" ".join)
def test_the_report_reads_the_same_in_one_pass_over_the_tags(reader, capsys, monkeypatch, argv):
    """The report reads only its keys, by one scan of the tag tables from 1,000 traces on (the
    bench's 10,000): that path, on this small store, against the mlflow client."""
    monkeypatch.setenv("CLAUDETRACING_READER", "mlflow")
    _, through_mlflow, _ = run(capsys, *argv)
    monkeypatch.delenv("CLAUDETRACING_READER")
    monkeypatch.setattr(traces.LocalStore, "scan_from", 0)
    scans = []
    real = traces.LocalStore._pairs
    monkeypatch.setattr(traces.LocalStore, "_pairs", lambda self, table, ids: scans.append(self.keys) or real(self, table, ids))
    _, fast, _ = run(capsys, *argv)
    assert fast == through_mlflow
    assert scans and all(keys and "files.modified" not in keys for keys in scans)


def test_a_quick_search_does_not_import_mlflow(reader, repo):
    import subprocess
    import sys
    code = "import sys, traces; traces.main(['search', '-f', 'json']); print('mlflow' in sys.modules, file=sys.stderr)"
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(traces.__file__).rsplit("/", 1)[0]})
    assert done.returncode == 0 and json.loads(done.stdout)["traces"], done.stderr
    assert done.stderr.strip() == "False"


def test_the_reader_checks_tables_and_columns_not_the_schema_revision(reader, tmp_path):
    """A revision this reader has never seen, with the tables and columns it reads, is read; a
    store without one of them is not (mlflow then reads it, saying so: test_mlflow_versions)."""
    import shutil
    import sqlite3
    path = reader["uri"].split(":///", 1)[1]
    for name, change in (("future.db", "UPDATE alembic_version SET version_num = 'from-the-future'"),
                         ("renamed.db", "ALTER TABLE trace_tags RENAME TO trace_tags_v2")):
        shutil.copy(path, tmp_path / name)
        with sqlite3.connect(tmp_path / name) as db:
            db.execute(change)
    assert traces.LocalStore(str(tmp_path / "future.db"), "sqlite:///future.db").analytics
    with pytest.raises(LookupError, match="it has no trace_tags table"):
        traces.LocalStore(str(tmp_path / "renamed.db"), "sqlite:///renamed.db")


# -- several agents in one store ---------------------------------------------------------------

@pytest.fixture(scope="session")
def mixed(store, tmp_path_factory):
    """The store copied, its acme/widgets turns then of three kinds: the newest Codex's, the
    next without the agent tag (as before Codex support: Claude Code's), the rest Claude Code's.
    acme/other stays Claude Code's alone. The tags are changed through MLflow's own client."""
    import shutil

    from mlflow import MlflowClient
    folder = tmp_path_factory.mktemp("mixed")
    shutil.copy(store["folder"] / "mlflow.db", folder / "mlflow.db")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    widgets = store["infos"]["acme/widgets"]
    client = MlflowClient(uri)
    client.set_trace_tag(widgets[0].trace_id, traces.TAG_AGENT, "codex")
    client.delete_trace_tag(widgets[1].trace_id, traces.TAG_AGENT)
    return {"uri": uri, "folder": folder, "codex": widgets[:1], "claude": widgets[1:], "other": store["infos"]["acme/other"]}


@pytest.fixture
def mixed_reader(mixed, repo):
    (repo / ".claude").mkdir()
    (repo / ".claude" / "traces.json").write_text(json.dumps({"tracking_uri": mixed["uri"], "experiment": "acme/widgets"}))
    return mixed


def headers(out):
    """The first line of each turn in the summary (it starts with the turn's date)."""
    return [line for line in out.splitlines() if line[:1].isdigit()]


def test_report_agent_filters_before_grouping_by_anything(mixed_reader, capsys):
    claude = mixed_reader["claude"]
    for by in traces.REPORT_KEYS:
        code, out, _ = run(capsys, "report", "--agent", "claude", "--by", by, "--json")
        report = json.loads(out)
        assert code == 0 and report["total"]["turns"] == len(claude), by      # the untagged turn too
        assert report["total"]["tokens"] == sums(claude)[0], by
        assert sum(r["turns"] for r in report["rows"]) == len(claude), by
    _, out, _ = run(capsys, "report", "--agent", "codex", "--by", "agent", "--json")
    assert [(r["key"], r["turns"]) for r in json.loads(out)["rows"]] == [("codex", 1)]
    code, out, _ = run(capsys, "report", "--agent", "gemini")
    assert code == 0 and out.startswith("No traces found")


def test_search_and_report_count_untagged_turns_as_claude_codes(mixed_reader, capsys):
    claude = [i.trace_id for i in mixed_reader["claude"]]
    _, out, _ = run(capsys, "search", "--agent", "claude", "-l", "0")
    assert ids(out) == claude
    _, out, _ = run(capsys, "report", "--agent", "claude", "--json")
    assert json.loads(out)["total"]["turns"] == len(claude)
    _, out, _ = run(capsys, "report", "--by", "agent", "--json")
    assert {r["key"]: r["turns"] for r in json.loads(out)["rows"]} == {"claude": len(claude), "codex": 1}


def local_time(ms):
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ms / 1000))


def test_list_counts_one_agents_traces(mixed_reader, capsys):
    def rows(*argv):
        _, out, _ = run(capsys, "list", *argv)
        return {line[2:].split()[1]: line for line in out.splitlines()[1:-1]}, out.splitlines()[-1]

    for agent, infos, other in (("codex", mixed_reader["codex"], 0), ("claude", mixed_reader["claude"], len(mixed_reader["other"]))):
        found, footer = rows("--agent", agent)
        assert found["acme/widgets"].split()[3] == str(len(infos)), agent
        assert local_time(infos[0].request_time) in found["acme/widgets"]          # its newest turn
        assert found["acme/other"].split()[2] == str(other) and footer.endswith(f"traces of {agent} only")
    found, footer = rows()
    assert found["acme/widgets"].split()[3] == str(len(mixed_reader["claude"]) + 1) and "only" not in footer


def test_each_turn_names_its_agent_unless_all_shown_are_claude_codes(mixed_reader, capsys):
    claude, codex = mixed_reader["claude"], mixed_reader["codex"][0]
    _, out, _ = run(capsys, "search", "-l", "0")
    assert [line.split()[-2:] for line in headers(out)] == [["agent", "codex"]] + [["agent", "claude"]] * len(claude)
    assert headers(out)[1].endswith("  agent claude")           # the untagged turn: Claude Code's
    _, out, _ = run(capsys, "search", "-f", "context", "-l", "0")
    assert out.startswith("# Coding-agent turns, newest first")
    assert out.count(" · agent claude\n") == len(claude) and out.count(" · agent codex\n") == 1
    # Claude Code's turns alone read as before, in the mixed experiment or in one of one agent.
    for argv in (["--agent", "claude"], ["-e", "acme/other"]):
        _, out, _ = run(capsys, "search", *argv)
        assert headers(out) and not any("agent" in line for line in headers(out)), argv
        _, out, _ = run(capsys, "search", "-f", "context", *argv)
        assert out.startswith("# Claude Code turns") and " · agent " not in out, argv
    # Another agent's turns are never shown unnamed, even alone (an unnamed turn is Claude Code's).
    for argv in (["--agent", "codex"], ["--trace-id", codex.trace_id]):
        _, out, _ = run(capsys, "search", *argv)
        assert [line.split()[-2:] for line in headers(out)] == [["agent", "codex"]], argv
        _, out, _ = run(capsys, "search", "-f", "context", *argv)
        assert out.startswith("# Coding-agent turns") and out.count(" · agent codex\n") == 1, argv


def test_one_agents_store_shows_no_agent(reader, capsys):
    _, out, _ = run(capsys, "search", "-l", "0", "--all")
    assert headers(out) and not any("agent" in line for line in headers(out))


AGENT_READS = [
    ["search", "-l", "0"], ["search", "--agent", "claude", "-l", "0"], ["search", "--agent", "codex"],
    ["search", "-f", "context", "-l", "0"], ["search", "-e", "acme/other"], ["search", "-f", "json", "--agent", "claude"],
    ["report", "--agent", "claude", "--by", "session", "--json"], ["report", "--by", "agent"], ["list", "--agent", "claude"],
]


def test_the_stdlib_reader_reads_agents_exactly_as_mlflow(mixed_reader, capsys, monkeypatch):
    for argv in AGENT_READS:
        monkeypatch.setenv("CLAUDETRACING_READER", "mlflow")
        code, through_mlflow, _ = run(capsys, *argv)
        monkeypatch.delenv("CLAUDETRACING_READER")
        assert (code, through_mlflow) == run(capsys, *argv)[:2], argv
        assert "No traces found" not in through_mlflow, argv
