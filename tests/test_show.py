"""`traces show`: a turn, or a session, replayed step by step, checked against the spans of a
real store filled by `traces import` from the recorded sessions of every agent (Claude Code
2.1.330, Codex 0.169.0, Gemini CLI 0.61.0, Copilot CLI 1.0.102): subagents, failed tool
calls and an interrupted turn among them."""

import json
import os
import re
import subprocess
import sys
import time

import pytest
from helpers import FIXTURES, RECORDED, ROOT, traces_cli

import traces

# Every recorded session: each folder of Claude Code's recordings, the public transcripts of older
# versions (not their subagents' files: those are read with their session), the other agents'.
SOURCES = [*sorted(p for p in RECORDED.iterdir() if p.is_dir()),
           *sorted(p for p in (FIXTURES / "public").glob("*/*.jsonl") if not p.name.startswith("agent-")
                   and "sidechain" not in p.name),
           FIXTURES / "codex-0.169.0", FIXTURES / "gemini-0.61.0", FIXTURES / "copilot-1.0.102"]
TOOL_LINE = re.compile(r"^( *)▸ (\S+)(.*)$")


def wire(repo, uri):
    (repo / ".claude").mkdir(parents=True, exist_ok=True)
    (repo / ".claude" / "traces.json").write_text(json.dumps({"experiment": "acme/widgets"}))
    (repo / ".claude" / "traces.local.json").write_text(json.dumps({"tracking_uri": uri}))


def import_into(folder, *sources):
    """A repository wired to a SQLite store in folder, the sources imported into it by the
    real command: (repo, uri, environment)."""
    repo, uri = folder / "widgets", f"sqlite:///{folder / 'mlflow.db'}"
    wire(repo, uri)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CLAUDETRACING_", "CLAUDE_"))}
    env.update(HOME=str(folder / "home"), TRACES_HOME=str(folder / "traces-home"))
    done = traces_cli("import", *map(str, sources), cwd=repo, env=env)
    assert done.returncode == 0, done.stderr
    return repo, uri, env


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Every recorded agent's sessions imported; the traces as mlflow's own client reads them."""
    repo, uri, env = import_into(tmp_path_factory.mktemp("show"), *SOURCES)
    from mlflow import MlflowClient
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("acme/widgets")
    found = client.search_traces(locations=[experiment.experiment_id], max_results=500, include_spans=True)
    return {"repo": repo, "uri": uri, "env": env, "traces": sorted(found, key=lambda t: t.info.request_time)}


@pytest.fixture
def shown(store, monkeypatch, capsys):
    """Run `traces show ...` in the store's repository: (exit code, stdout, stderr)."""
    monkeypatch.chdir(store["repo"])

    def show(*argv):
        code = traces.main(["show", *argv])
        out, err = capsys.readouterr()
        return code, out, err
    return show


def expected_tools(trace):
    """(depth, tool name, failed) of every TOOL span, as a reader of the spans replays the turn:
    children in time order (ties: the one that ended first), a subagent's under its call."""
    spans = trace.data.spans
    by_parent = {}
    for span in spans:
        by_parent.setdefault(span.parent_id, []).append(span)
    found = []

    def walk(span_id, depth):
        for span in sorted(by_parent.get(span_id, []), key=lambda s: (s.start_time_ns, s.end_time_ns)):
            if span.span_type == "TOOL":
                found.append((depth, span.name[len("tool_"):], span.status.status_code == "ERROR"))
                for agent in by_parent.get(span.span_id, []):
                    walk(agent.span_id, depth + 1)
    [root] = by_parent[None]
    walk(root.span_id, 0)
    return found


def shown_tools(out):
    return [(len(m.group(1)) // 4, m.group(2), "✗ error" in m.group(3))
            for m in map(TOOL_LINE.match, out.splitlines()) if m]


def test_every_turn_of_every_agent_shows_each_tool_call_in_order(store, shown, monkeypatch):
    assert {t.info.tags["agent"] for t in store["traces"]} == {"claude", "codex", "gemini", "copilot"}
    depths, failures, interrupted = set(), 0, 0
    for trace in store["traces"]:
        info = trace.info
        code, out, err = shown(info.trace_id, "--full")
        assert code == 0 and err == "", info.trace_id
        expected = expected_tools(trace)
        assert shown_tools(out) == expected, info.trace_id
        lines = out.splitlines()
        assert lines[0].split()[2:] == [info.trace_id, info.tags["claudetracing.status"]]
        assert f"agent  {info.tags['agent']}  session {info.trace_metadata['mlflow.trace.session']}" in out
        assert info.request_preview.strip().splitlines()[0] in out.split("Prompt\n", 1)[1]
        assert (info.response_preview.strip().splitlines() or ["(none)"])[0] in out.split("\nAnswer\n", 1)[1]
        assert ("Interrupted by the user" in out) == (info.tags["claudetracing.status"] == "interrupted")
        depths |= {depth for depth, _, _ in expected}
        failures += sum(failed for _, _, failed in expected)
        interrupted += info.tags["claudetracing.status"] == "interrupted"
        # The spans read without mlflow give what mlflow's own client gives.
        monkeypatch.setenv("CLAUDETRACING_READER", "mlflow")
        assert shown(info.trace_id, "--full") == (0, out, "")
        monkeypatch.delenv("CLAUDETRACING_READER")
    assert depths == {0, 1} and failures >= 5 and interrupted >= 2    # subagents, errors, interrupts


def by_agent(store, agent, tool):
    """The first turn of an agent's recordings of ours (not the public ones) that called tool."""
    return next(t for t in store["traces"] if t.info.tags["agent"] == agent
                and any(s.name == f"tool_{tool}" for s in t.data.spans)
                and (agent != "claude" or t.info.request_preview.startswith("CT-SCENARIO main")))


def test_a_command_shows_its_exit_status_and_an_edit_its_diff(store, shown):
    claude = by_agent(store, "claude", "Edit")
    _, out, _ = shown(claude.info.trace_id)
    assert ("▸ Edit  /tmp/claudetracing-fixture/widgets/notes.txt\n"
            "    --- a/tmp/claudetracing-fixture/widgets/notes.txt\n"
            "    +++ b/tmp/claudetracing-fixture/widgets/notes.txt\n"
            "    @@ -1 +1 @@\n"
            "    -beta\n"
            "    +gamma\n") in out
    assert "    --- /dev/null\n    +++ b/tmp/claudetracing-fixture/widgets/notes.txt\n    @@ -0,0 +1,2 @@\n" \
           "    +alpha\n    +beta\n" in out                            # a Write: from nothing
    assert "▸ Bash  $ ls /nonexistent-ct-dir; exit 3  exit 3  ✗ error\n" in out
    assert "    ▸ Read  /tmp/claudetracing-fixture/widgets/notes.txt\n" in out   # the subagent's
    for agent, tool, line in (
            ("codex", "exec_command", "▸ exec_command  $ ls /nonexistent-ct-dir; exit 3  exit 3  ✗ error"),
            ("codex", "shell", "▸ shell  $ ls /nonexistent-ct-dir; exit 2  exit 2  ✗ error"),
            ("gemini", "write_file", "▸ write_file  notes.txt\n    --- /dev/null\n    +++ b/notes.txt\n"
                                     "    @@ -0,0 +1 @@\n    +written by the stand-in"),
            ("gemini", "replace", "▸ replace  /work/widgets/README.md  ✗ error\n    --- a/work/widgets/README.md"),
            ("copilot", "task", "▸ task  [general-purpose]  step 1\n    prompt: Sub task.\n"
                                "    ▸ bash  $ echo from-sub  exit 0")):
        _, out, _ = shown(by_agent(store, agent, tool).info.trace_id)
        assert line in out, (agent, tool)


def test_results_are_cut_to_a_few_lines_unless_full(store, shown):
    trace = by_agent(store, "gemini", "run_shell_command")
    _, cut, _ = shown(trace.info.trace_id)
    _, full, _ = shown(trace.info.trace_id, "--full")
    assert "more line(s) (--full shows them)" in cut and "more line(s)" not in full
    assert "Process Group PGID" in full and len(full.splitlines()) > len(cut.splitlines())


def test_a_session_is_shown_whole_oldest_turn_first(store, shown):
    interactive = sorted((t for t in store["traces"]
                          if t.info.trace_metadata["mlflow.trace.session"].startswith("3de4516d")),
                         key=lambda t: t.info.request_time)
    assert len(interactive) == 3
    code, out, _ = shown("--session", "3de4516d")
    assert code == 0
    assert re.findall(r"tr-[0-9a-f]{32}", out) == [t.info.trace_id for t in interactive]
    assert out.count("\nPrompt\n") == 3 and out.count("Interrupted by the user") == 1


def test_an_id_prefix_is_enough_when_it_is_unique(store, shown):
    ids = [t.info.trace_id for t in store["traces"]]
    one = ids[0]
    unique = next(one[:n] for n in range(4, 36) if sum(i.startswith(one[:n]) for i in ids) == 1)
    whole = shown(one)
    assert whole[0] == 0 and shown(unique) == whole and shown(unique[3:]) == whole   # with or without tr-
    shared = next(i[:4] for i in ids if sum(j.startswith(i[:4]) for j in ids) > 1)
    code, out, err = shown(shared)
    assert code == 1 and out == "" and re.match(rf"Error: {shared} starts \d+ trace ids \(tr-", err)
    code, _, err = shown("tr-ffffffffffffff")
    assert code == 1 and "Error: no trace id starts with tr-ffffffffffffff in experiment 'acme/widgets'" in err
    code, _, err = shown("--session", "0")
    assert code == 1 and re.match(r"Error: 0 starts \d+ session ids", err)
    code, _, err = shown("--session", "ffff")
    assert code == 1 and "no session id starts with ffff" in err
    for argv in ([], [one, "--session", "3de4516d"]):
        code, _, err = shown(*argv)
        assert code == 1 and "give a trace id or --session ID" in err


def test_json_is_the_replay_whole(store, shown):
    trace = by_agent(store, "claude", "Agent")
    code, out, err = shown(trace.info.trace_id, "-f", "json")
    assert code == 0 and err == ""
    [turn] = json.loads(out)["turns"]
    assert set(turn) == {"trace_id", "start_time", "agent", "session", "branch", "commit", "models", "duration_ms",
                         "status", "tokens", "cost_usd", "prompt", "steps", "answer"}
    assert turn["trace_id"] == trace.info.trace_id and turn["status"] == "error"
    tools = [s for s in turn["steps"] if s["type"] == "tool"]
    assert set(tools[0]) == {"type", "name", "error", "duration_ms", "command", "exit_code", "path", "pattern",
                             "description", "diff", "input", "result", "subagent"}
    edit = next(s for s in tools if s["name"] == "Edit")
    assert edit["diff"][-2:] == ["-beta", "+gamma"] and edit["input"]["old_string"] == "beta"
    agents = [s["subagent"] for s in tools if s["subagent"]]
    assert [a["type"] for a in agents] == ["general-purpose"] * 2
    assert agents[0]["steps"][0]["name"] == "Read" and agents[0]["answer"].startswith("The first line")
    failed = next(s for s in tools if s["error"])
    assert failed["exit_code"] == 3 and failed["result"].startswith("Exit code 3")
    assert {s["type"] for s in turn["steps"]} == {"text", "tool"}


def test_markdown_pastes_into_a_pull_request(store, shown):
    trace = by_agent(store, "claude", "Edit")
    code, out, _ = shown(trace.info.trace_id, "-f", "markdown")
    assert code == 0 and out.startswith("### ") and f"`{trace.info.trace_id}`" in out
    assert "- **Edit** `/tmp/claudetracing-fixture/widgets/notes.txt`\n  ```diff\n" in out
    assert "- **Bash** `$ ls /nonexistent-ct-dir; exit 3` — exit 3 — **error**" in out
    assert "  - **Read** `/tmp/claudetracing-fixture/widgets/notes.txt`" in out      # under its Agent call
    assert out.count("```") % 2 == 0 and "\x1b" not in out


def test_text_from_a_trace_cannot_drive_the_terminal(tmp_path, monkeypatch, capsys):
    """A command's output that sets the window title and reverses the text is shown escaped."""
    source = FIXTURES / "copilot-1.0.102" / "single" / "events.jsonl"
    text = source.read_text()
    assert '"content":"hi\\n<shellId' in text
    hostile = tmp_path / "hostile" / "events.jsonl"
    hostile.parent.mkdir()
    hostile.write_text(text.replace('"content":"hi\\n<shellId', '"content":"\\u001b]0;pwned\\u0007hi\\u202e\\n<shellId'))
    repo, _, env = import_into(tmp_path, hostile)
    monkeypatch.chdir(repo)
    monkeypatch.setenv("TRACES_HOME", env["TRACES_HOME"])
    for fmt in ("text", "markdown"):
        assert traces.main(["show", "--session", "0", "-f", fmt]) == 0
        out = capsys.readouterr().out
        assert "\\x1b]0;pwned\\x07hi\\u202e" in out and "\x1b" not in out and "\u202e" not in out


def run_on_terminal(argv, cwd, env):
    """Run traces with its stdout on a pseudo-terminal: what it wrote there."""
    import pty
    main, secondary = pty.openpty()
    process = subprocess.Popen([sys.executable, str(ROOT / "traces.py"), *argv], cwd=cwd, env=env,
                               stdin=subprocess.DEVNULL, stdout=secondary, stderr=subprocess.PIPE)
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:         # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(main)
    return b"".join(chunks).decode("utf-8", "replace")


def test_a_long_replay_on_a_terminal_is_paged_in_colour(store, tmp_path):
    trace = by_agent(store, "claude", "Edit")
    paged = tmp_path / "paged.txt"
    env = {**store["env"], "PAGER": f"cat > {paged}", "LINES": "10", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    screen = run_on_terminal(["show", trace.info.trace_id[:12]], store["repo"], env)
    text = paged.read_text()
    assert screen.strip() == "" and trace.info.trace_id in text
    assert "\x1b[31m" in text and "\x1b[1m" in text                   # colours reach the pager
    paged.unlink()
    plain = run_on_terminal(["show", trace.info.trace_id[:12]], store["repo"], {**env, "NO_COLOR": "1"})
    assert "\x1b" not in paged.read_text() and plain.strip() == ""
    paged.unlink()
    screen = run_on_terminal(["show", trace.info.trace_id[:12], "--no-pager"], store["repo"], env)
    assert not paged.exists() and trace.info.trace_id in screen and "\x1b[31m" in screen
    short = run_on_terminal(["show", trace.info.trace_id[:12]], store["repo"], {**env, "LINES": "500"})
    assert not paged.exists() and trace.info.trace_id in short          # a screenful is not paged


def test_a_server_store_is_read_without_mlflow_alike(mlflow_server, repo, tmp_path, monkeypatch, capsys):
    if mlflow_server.backend_store_uri.startswith("postgresql"):
        pytest.skip("one backend is enough here")
    import trace_store
    session = "aaaaaaaa-0000-4000-8000-000000000011"
    (tmp_path / "fill").mkdir()
    trace_store.fill(tmp_path / "fill", [("acme/widgets", session, time.time() - 3600, "main", "newest")],
                     uri=mlflow_server.url)
    wire(repo, mlflow_server.url)
    assert isinstance(traces.Backend(str(repo)).client, traces.ServerStore)
    assert traces.main(["show", "--session", "aaaa", "--full"]) == 0
    out = capsys.readouterr().out
    assert "▸ Edit" in out and "    ▸ " in out and "✗ error" in out
    monkeypatch.setenv("CLAUDETRACING_READER", "mlflow")
    assert traces.main(["show", "--session", "aaaa", "--full"]) == 0
    assert capsys.readouterr().out == out


def test_help_and_search_context_point_at_show(store, shown, capsys):
    with pytest.raises(SystemExit):
        traces.main(["--help"])
    assert "traces show" in capsys.readouterr().out
    assert traces.main(["search", "-f", "context", "-l", "1"]) == 0
    assert "traces show <trace id>" in capsys.readouterr().out
    assert "traces show" in (ROOT / "README.md").read_text()


def test_a_long_line_of_a_result_is_cut_unless_full(store, shown):
    trace = next(t for t in store["traces"] if any(s.name == "tool_WebSearch" for s in t.data.spans))
    _, cut, _ = shown(trace.info.trace_id)
    _, full, _ = shown(trace.info.trace_id, "--full")
    links = [line for line in cut.splitlines() if line.lstrip().startswith("Links: [")]
    assert links and all(len(line.strip()) == traces.LINE_CHARS and line.endswith("…") for line in links)
    assert max(len(line) for line in full.splitlines()) > 1000


def test_copilot_edits_and_codex_patches_show_their_diffs(tmp_path, monkeypatch, capsys):
    """The recorded sessions hold no Copilot `edit` nor Codex `apply_patch`: one call of each
    put in place of a recorded shell call (the rest of the files as recorded)."""
    copilot = (FIXTURES / "copilot-1.0.102" / "single" / "events.jsonl").read_text()
    bash = '"bash","arguments":{"command":"echo hi","description":"step 1"}'
    assert copilot.count(bash) == 2
    edit = json.dumps({"path": "/repo/app.py", "old_str": "a = 1\nb = 2\n", "new_str": "a = 1\nb = 3\n"})
    (tmp_path / "copilot").mkdir()
    (tmp_path / "copilot" / "events.jsonl").write_text(copilot.replace(bash, f'"edit","arguments":{edit}'))
    [rollout] = (FIXTURES / "codex-0.169.0" / "exec").glob("rollout-*.jsonl")
    lines = [json.loads(line) for line in rollout.read_text().splitlines()]
    [call] = [r for r in lines if r["payload"].get("name") == "exec_command" and "git status" in r["payload"]["arguments"]]
    patch = "*** Begin Patch\n*** Update File: README.md\n@@\n-# widgets\n+# gadgets\n*** End Patch"
    call["payload"] = {**call["payload"], "type": "custom_tool_call", "name": "apply_patch", "input": patch}
    del call["payload"]["arguments"]
    (tmp_path / "codex").mkdir()
    (tmp_path / "codex" / rollout.name).write_text("".join(json.dumps(r) + "\n" for r in lines))
    repo, _, env = import_into(tmp_path, tmp_path / "copilot" / "events.jsonl", tmp_path / "codex" / rollout.name)
    monkeypatch.chdir(repo)
    monkeypatch.setenv("TRACES_HOME", env["TRACES_HOME"])
    assert traces.main(["show", "--session", "0023"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^▸ edit  /repo/app\.py(  exit 0)?\n    --- a/repo/app\.py\n    \+\+\+ b/repo/app\.py\n"
                     r"    @@ -1,2 \+1,2 @@\n     a = 1\n    -b = 2\n    \+b = 3\n", out, re.M), out
    assert traces.main(["show", "--session", "01a2", "-f", "markdown"]) == 0
    assert "- **apply_patch**" in (out := capsys.readouterr().out)
    assert "```diff\n  *** Begin Patch\n  *** Update File: README.md\n  @@\n  -# widgets\n  +# gadgets\n" \
           "  *** End Patch\n  ```" in out


def test_a_local_store_is_replayed_without_importing_mlflow(store):
    trace = by_agent(store, "claude", "Agent")
    check = ("import sys, traces; code = traces.main(sys.argv[1:]); "
             "sys.exit(code or ('mlflow' in sys.modules and 'mlflow imported'))")
    done = subprocess.run([sys.executable, "-c", check, "show", trace.info.trace_id[:10], "-f", "json"],
                          cwd=store["repo"], env={**store["env"], "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["turns"][0]["trace_id"] == trace.info.trace_id
