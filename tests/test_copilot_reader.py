"""GitHub Copilot CLI session files → turn records, on the sessions recorded from the real
1.0.102 binary (tests/fixtures/copilot-1.0.102) and hand-made edge cases."""

import json
from pathlib import Path

import pytest

import traces

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "copilot-1.0.102"
SESSIONS = sorted(FIXTURES.glob("*/events.jsonl"))
KEYS = {"inputTokens": ("input", "cache_read", "cache_creation"), "outputTokens": ("output",),
        "cacheReadTokens": ("cache_read",), "cacheWriteTokens": ("cache_creation",), "reasoningTokens": ("reasoning",)}


def records(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def in_copilot_terms(usage):
    """Our usage keys back in Copilot's (its inputTokens counts cache reads and writes)."""
    return {theirs: sum(usage.get(k, 0) for k in ours) for theirs, ours in KEYS.items()}


def by_model(turns):
    totals = {}
    for turn in turns:
        for model, usage in turn["by_model"].items():
            traces.add_usage(totals.setdefault(model, traces.empty_usage()), usage)
    return {model: in_copilot_terms(usage) for model, usage in totals.items()}


@pytest.mark.parametrize("path", SESSIONS, ids=lambda p: p.parent.name)
def test_every_ledger_of_a_session_equals_the_turns_before_it(path, tmp_path):
    """Each process ends with session.shutdown: Copilot's own totals for the session so far.
    The turns read up to each of them add up to them, model by model, token kind by kind."""
    text = path.read_bytes()
    shutdowns = [(i, r) for i, r in enumerate(records(path)) if r["type"] == "session.shutdown"]
    assert shutdowns
    lines = text.splitlines(keepends=True)
    for i, shutdown in shutdowns:
        expected = {model: {k: m["usage"][k] for k in KEYS} for model, m in shutdown["data"]["modelMetrics"].items()}
        upto = tmp_path / "events.jsonl"
        upto.write_bytes(b"".join(lines[:i + 1]))
        turns, _, bad = traces.copilot_read(str(upto))
        assert bad == 0
        assert by_model(turns) == expected


def test_a_resumed_session_reads_as_one_turn_per_prompt():
    turns, _, _ = traces.copilot_read(str(FIXTURES / "resumed" / "events.jsonl"))
    prompts = [r["data"]["content"] for r in records(FIXTURES / "resumed" / "events.jsonl") if r["type"] == "user.message"]
    assert [t["prompt"] for t in turns] == prompts and len(turns) == 3
    assert all(t["agent"] == "copilot" and t["ended"] and t["session"] == turns[0]["session"] for t in turns)
    assert [t["answer"] for t in turns] == ["Done: 2 command(s).", "Done: 1 command(s).", "Plain answer from the stand-in."]
    first = turns[0]
    assert [s["kind"] for s in first["steps"]] == ["llm", "tool", "llm", "tool", "llm"]
    tools = [s for s in first["steps"] if s["kind"] == "tool"]
    assert [(t["name"], t["input"]["command"], t["meta"]["exit_code"], t["error"]) for t in tools] == [
        ("bash", "echo hello", 0, False), ("bash", "ls /nonexistent-folder", 2, True)]
    assert "hello" in tools[0]["result"] and first["tool_counts"] == {"bash": 2} and first["tool_errors"] == 1
    llm = first["steps"][0]
    assert llm["model"] == "gpt-4.1" and llm["content"][0]["type"] == "tool_use"
    assert first["steps"][2]["inputs"][0]["content"][0]["type"] == "tool_result"
    assert first["meta"]["version"] == "1.0.102" and first["meta"]["cwd"].endswith("/project")
    assert turns[0]["id"] != turns[1]["id"] and all(t["id"].startswith(t["session"] + ":") for t in turns)


def test_reading_from_a_turns_offset_gives_the_same_turns():
    path = str(FIXTURES / "resumed" / "events.jsonl")
    turns, end, _ = traces.copilot_read(path)
    later, end2, _ = traces.copilot_read(path, turns[1]["offset"])
    assert [t["id"] for t in later] == [t["id"] for t in turns[1:]] and end2 == end
    assert [t["usage"] for t in later] == [t["usage"] for t in turns[1:]]


def test_malformed_lines_are_skipped_and_counted(tmp_path):
    lines = (FIXTURES / "single" / "events.jsonl").read_text().splitlines(keepends=True)
    broken = tmp_path / "events.jsonl"
    broken.write_text(lines[0] + "{not json\n" + "".join(lines[1:3]) + "[1, 2]\n" + "".join(lines[3:]))
    turns, _, bad = traces.copilot_read(str(broken))
    good, _, _ = traces.copilot_read(str(FIXTURES / "single" / "events.jsonl"))
    assert bad == 2
    assert [t["usage"] for t in turns] == [t["usage"] for t in good]


def test_a_turn_is_finished_by_the_next_prompt_the_agent_stopping_or_session_end(tmp_path):
    lines = (FIXTURES / "single" / "events.jsonl").read_text().splitlines(keepends=True)
    stop = next(i for i, line in enumerate(lines) if '"hookType":"agentStop"' in line)
    under_way = tmp_path / "events.jsonl"
    under_way.write_text("".join(lines[:stop]))
    (turn,), _, _ = traces.copilot_read(str(under_way))
    state = {"ended": 0}
    assert not traces.copilot_finished(turn, turn["offset"], False, state)
    assert traces.copilot_finished(turn, turn["offset"], True, state)
    assert traces.copilot_finished(turn, turn["offset"], False, {"ended": turn["offset"] + 1})
    under_way.write_text("".join(lines[:stop + 1]))
    (turn,), _, _ = traces.copilot_read(str(under_way))
    assert traces.copilot_finished(turn, turn["offset"], False, state)


def test_a_session_is_known_by_its_content_not_its_name(tmp_path):
    session = records(FIXTURES / "single" / "events.jsonl")[0]["data"]["sessionId"]
    assert traces.AGENTS["copilot"]["identify"](str(FIXTURES / "single" / "events.jsonl")) == session
    other = tmp_path / "events.jsonl"
    other.write_text('{"type": "user", "message": {}}\n')
    assert traces.AGENTS["copilot"]["identify"](str(other)) is None
    assert [Path(p).parent.name for p in traces.AGENTS["copilot"]["files_in"](str(FIXTURES))] == ["resumed", "single", "subagent"]


def test_a_subagents_run_is_nested_under_the_task_call_that_started_it():
    """Copilot writes a subagent's records (its own prompt too) into the session's file, each
    with the agent's agentId: they are not a turn of their own, and their tokens count once."""
    path = FIXTURES / "subagent" / "events.jsonl"
    (turn,), _, _ = traces.copilot_read(str(path))
    assert turn["prompt"].startswith("Delegate.") and turn["answer"] == "Done: 2 command(s)."
    assert [(s["kind"], s.get("name")) for s in turn["steps"]] == [
        ("llm", None), ("tool", "task"), ("llm", None), ("tool", "bash"), ("llm", None)]
    sub = turn["steps"][1]["subagent"]
    assert sub["type"] == "general-purpose" and sub["prompt"] == "Sub task.\nRUN: echo from-sub"
    assert [(s["kind"], s.get("name")) for s in sub["steps"]] == [("llm", None), ("tool", "bash"), ("llm", None)]
    assert sub["steps"][1]["result"].startswith("from-sub") and sub["answer"] == "Done: 1 command(s)."
    agents = [r["data"]["agentMetrics"] for r in records(path) if r["type"] == "session.shutdown"][-1]
    (own,) = [a for key, a in agents.items() if key != "main"]
    assert in_copilot_terms(sub["usage"]) == {k: own["modelMetrics"]["gpt-4.1"]["usage"][k] for k in KEYS}
    assert turn["tool_counts"] == {"task": 1, "bash": 2}
