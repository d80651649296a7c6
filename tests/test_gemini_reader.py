"""Gemini CLI chat files → turn records (the engine's reading half for Gemini), on the sessions
recorded from gemini 0.61.0 (tests/fixtures/gemini-0.61.0), the older single-document form and
hand-written edge cases. Gemini's own ledger (`-o json` stats, one file per process) is the truth."""

import json
import shutil
from pathlib import Path

import traces

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "gemini-0.61.0"


def chat(name):
    found = sorted((FIXTURES / name).glob("session-*.json*"))
    assert found, name
    return str(found[0])


def read_turns(path, offset=0):
    records, end, bad = traces.gemini_read(path, offset)
    return traces.gemini_turns(records, traces.gemini_session_meta(path)), end, bad


def ledger(name):
    """Gemini's own tokens of a session: the sum over its processes, {model: tokens} and all models."""
    by_model = {}
    for path in sorted((FIXTURES / name).glob("stats-*.json")):
        for model, stats in json.loads(path.read_text())["stats"]["models"].items():
            for key, value in stats["tokens"].items():
                by_model.setdefault(model, {}).setdefault(key, 0)
                by_model[model][key] += value
    total = {}
    for tokens in by_model.values():
        for key, value in tokens.items():
            total[key] = total.get(key, 0) + value
    return by_model, total


def requests(name):
    return sum(stats["api"]["totalRequests"] for path in sorted((FIXTURES / name).glob("stats-*.json"))
               for stats in json.loads(path.read_text())["stats"]["models"].values())


def session_usage(turns):
    usage = traces.empty_usage()
    for turn in turns:
        traces.add_usage(usage, turn["usage"])
    return usage


def as_ours(tokens):
    """Gemini's ledger in our keys: input excludes cached (stats `input`), thoughts are output."""
    return {"input": tokens["input"] + tokens["tool"], "cache_read": tokens["cached"],
            "output": tokens["candidates"] + tokens["thoughts"], "reasoning": tokens["thoughts"],
            "total": tokens["total"]}


def test_session_totals_equal_geminis_own_ledger():
    for name in ("shell", "resume"):
        turns, _, bad = read_turns(chat(name))
        by_model, total = ledger(name)
        usage = session_usage(turns)
        assert bad == 0
        assert {k: usage[k] for k in as_ours(total)} == as_ours(total), name
        mine = {}
        for turn in turns:
            for model, used in turn["by_model"].items():
                traces.add_usage(mine.setdefault(model, traces.empty_usage()), used)
        assert {m: {k: u[k] for k in ("input", "cache_read", "output", "total")} for m, u in mine.items()} == \
            {m: {k: as_ours(t)[k] for k in ("input", "cache_read", "output", "total")} for m, t in by_model.items()}


def test_each_model_message_counted_once():
    """Gemini writes a tool-calling message twice (same id); each API call is one llm step."""
    for name in ("shell", "resume"):
        text = Path(chat(name)).read_text()
        turns, _, _ = read_turns(chat(name))
        ids = [s["id"] for t in turns for s in t["steps"] if s["kind"] == "llm"]
        assert len(ids) == len(set(ids)) == requests(name)
        written = [json.loads(line) for line in text.splitlines()]
        assert len([r for r in written if r.get("type") == "gemini"]) > len(ids)     # written twice, read once


def test_turn_boundaries_of_a_resumed_session():
    """Three processes, three turns: the history each resume restates ($set) is not read again,
    and tool results (user messages with a functionResponse) never start a turn."""
    turns, _, _ = read_turns(chat("resume"))
    assert [t["prompt"].splitlines()[0] for t in turns] == [
        "Check the repository.", "What does the README say?", "Thanks. Anything else?"]
    assert [t["answer"] for t in turns] == ["Done: 3 tool call(s).", "Done: 1 tool call(s).",
                                            "Plain answer from the stand-in."]
    assert all(t["ended"] for t in turns)
    assert [t["models"] for t in turns] == [["gemini-2.5-flash"], ["gemini-2.5-flash"], ["gemini-2.5-pro"]]
    assert len({t["id"] for t in turns}) == 3
    assert {t["session"] for t in turns} == {"625568b3-34f5-4ebc-ae50-fda0056b353a"}
    assert all(t["agent"] == "gemini" for t in turns)
    # Read on from a turn's offset (a checkpoint), the same turns from there come back.
    again, _, _ = read_turns(chat("resume"), turns[1]["offset"])
    assert [t["id"] for t in again] == [t["id"] for t in turns[1:]]
    assert session_usage(again)["total"] == sum(t["usage"]["total"] for t in turns[1:])


def test_tool_steps_commands_exit_codes_and_files():
    turn = read_turns(chat("shell"))[0][0]
    kinds = [s["kind"] if s["kind"] == "llm" else s["name"] for s in turn["steps"]]
    assert kinds == ["llm", "run_shell_command", "llm", "run_shell_command", "llm", "write_file", "llm"]
    tools = [s for s in turn["steps"] if s["kind"] == "tool"]
    assert [s["meta"].get("command") for s in tools] == ["git status --short --branch",
                                                          "ls /nonexistent-ct-dir; exit 3", None]
    assert [s["meta"]["exit_code"] for s in tools] == [0, 3, None]
    assert [s["error"] for s in tools] == [False, True, False]
    assert "Exit Code: 3" in tools[1]["result"]
    assert all(s["start"] <= s["end"] for s in turn["steps"])
    assert turn["tool_errors"] == 1 and turn["tool_counts"] == {"run_shell_command": 2, "write_file": 1}
    assert turn["files"] == ["notes.txt"]           # as the model named it: no project folder beside the fixture
    llm = [s for s in turn["steps"] if s["kind"] == "llm"]
    assert llm[0]["content"][0] == {"type": "thinking", "thinking": "Planning: the next step."}
    assert llm[0]["usage"]["reasoning"] == 13 and llm[0]["attributes"] == {"claudetracing.thoughts_tokens": 13}
    assert llm[1]["inputs"][0]["content"][0]["type"] == "tool_result"
    assert turn["cost"] > 0                         # genai-prices knows gemini-2.5-flash


def test_the_project_folder_names_the_files(tmp_path):
    """~/.gemini/tmp/<project>/.project_root holds the project's folder: cwd, and relative
    paths of the write tools made absolute."""
    chats = tmp_path / "widgets" / "chats"
    chats.mkdir(parents=True)
    (tmp_path / "widgets" / ".project_root").write_text("/work/widgets")
    shutil.copy(chat("shell"), chats)
    turn = read_turns(str(next(chats.iterdir())))[0][0]
    assert turn["meta"]["cwd"] == "/work/widgets"
    assert turn["files"] == ["/work/widgets/notes.txt"]


def test_older_single_document_sessions():
    """The session-*.json form: info, warning and error messages are no turns; a model switch
    within the session; cached inside input; a turn that ends in an API error is over."""
    path = chat("older")
    turns, end, bad = read_turns(path)
    assert (end, bad) == (10, 0)
    assert [t["prompt"] for t in turns] == ["List the files.\n", "Now fail on purpose.", "One more?"]
    assert [t["models"] for t in turns] == [["gemini-2.5-flash"], ["gemini-2.5-pro"], []]
    assert [t["ended"] for t in turns] == [True, True, True]
    assert turns[0]["usage"]["input"] == (2100 - 0) + (2180 - 1900)
    assert turns[0]["usage"]["cache_read"] == 1900
    assert turns[1]["usage"]["output"] == 30 + 120 + 25 + 40 and turns[1]["usage"]["reasoning"] == 160
    document = json.loads(Path(path).read_text())
    assert session_usage(turns)["total"] == sum(m["tokens"]["total"] for m in document["messages"] if "tokens" in m)
    tools = [s for s in turns[1]["steps"] if s["kind"] == "tool"]
    assert [(s["name"], s["error"], s["meta"]["exit_code"]) for s in tools] == [
        ("run_shell_command", True, 1), ("replace", True, None)]
    assert tools[1]["result"] == "Failed to edit, could not find the string to replace."
    assert turns[1]["files"] == ["/work/widgets/README.md"]
    assert turns[0]["id"] == "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d:m-user-1"
    # A checkpoint is a message index: reading on from the third prompt gives that turn alone.
    later, _, _ = read_turns(path, turns[2]["offset"])
    assert [t["prompt"] for t in later] == ["One more?"]


def write_lines(path, lines):
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return str(path)


HEADER = {"sessionId": "sess-g", "projectHash": "ab" * 32, "startTime": "2026-12-07T10:00:00.000Z",
          "lastUpdated": "2026-12-07T10:00:00.000Z", "kind": "main"}


def message(mid, kind, second, **more):
    return {"id": mid, "timestamp": f"2026-12-07T10:00:{second:02d}.000Z", "type": kind, **more}


def test_a_message_written_twice_counts_once_and_a_malformed_line_is_skipped(tmp_path):
    tokens = {"input": 1000, "output": 10, "cached": 400, "thoughts": 5, "tool": 2, "total": 1017}
    first = message("g1", "gemini", 2, content="", tokens=tokens, model="gemini-2.5-flash")
    call = {"id": "c1", "name": "run_shell_command", "args": {"command": "ls"}, "status": "success",
            "timestamp": "2026-12-07T10:00:04.000Z",
            "result": [{"functionResponse": {"id": "c1", "name": "run_shell_command", "response": {"output": "a"}}}]}
    path = write_lines(tmp_path / "session-x.jsonl", [
        HEADER, message("u1", "user", 1, content=[{"text": "go"}]), first, {"$set": {"lastUpdated": "x"}},
        "{not json", {**first, "toolCalls": [call]},
        message("u2", "user", 4, content=[{"functionResponse": call["result"][0]["functionResponse"]}]),
        message("g2", "gemini", 5, content="done", tokens={**tokens, "cached": 0}, model="gemini-2.5-flash")])
    turns, _, bad = read_turns(path)
    assert bad == 1
    assert len(turns) == 1
    usage = turns[0]["usage"]
    assert usage["total"] == 2 * 1017                       # g1 once, g2 once
    assert (usage["input"], usage["cache_read"], usage["output"]) == (602 + 1002, 400, 30)
    assert [s["kind"] for s in turns[0]["steps"]] == ["llm", "tool", "llm"]
    assert turns[0]["steps"][1]["result"] == "a" and turns[0]["ended"]


def test_a_turn_in_progress_is_not_over(tmp_path):
    """A model message written before its tool ran (no toolCalls yet, no text) ends nothing."""
    path = write_lines(tmp_path / "session-y.jsonl", [
        HEADER, message("u1", "user", 1, content=[{"text": "go"}]),
        message("g1", "gemini", 2, content="", thoughts=[{"subject": "Plan", "description": "run"}],
                tokens={"input": 10, "output": 1, "total": 11}, model="gemini-2.5-flash")])
    assert [t["ended"] for t in read_turns(path)[0]] == [False]


def test_session_meta_recognises_only_gemini_chats(tmp_path):
    assert traces.gemini_session_meta(chat("shell"))["id"] == "f4bee8ad-a068-4762-86f5-e458f9d6678e"
    assert traces.gemini_session_meta(chat("older"))["id"] == "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    codex = Path(__file__).resolve().parent / "fixtures" / "codex-0.169.0" / "exec"
    assert traces.gemini_session_meta(str(next(codex.glob("rollout-*.jsonl")))) == {}
    assert traces.gemini_session_meta(write_lines(tmp_path / "x.json", ['{"messages": []}'])) == {}
