"""The Codex test harness and the facts about Codex CLI it relies on (DESIGN.md).

The live tests run the real binary (`make codex`) against tests/fake_openai.py and skip when it
is absent; the fixture tests read tests/fixtures/codex-0.169.0/ and always run. None of this
tests our engine: it checks the ground the Codex engine will stand on.
"""

import json
from pathlib import Path

import pytest
from codex_harness import (
    CODEX_VERSION,
    codex_bin,
    codex_env,
    codex_home,
    find_rollout,
    install_hooks,
    read_hooks,
    read_rollout,
    run_codex,
)
from fake_openai import PLAIN_ANSWER, FakeOpenAI, decide, final_text

FIXTURES = Path(__file__).resolve().parent / "fixtures" / f"codex-{CODEX_VERSION}"
USAGE_KEYS = ("input_tokens", "cached_input_tokens", "cache_write_input_tokens", "output_tokens",
              "reasoning_output_tokens", "total_tokens")
needs_codex = pytest.mark.skipif(codex_bin() is None, reason="codex not installed (make codex)")


def usage_sum(lines: list[dict]) -> dict:
    records = [r["payload"]["usage"] for r in lines if r["type"] == "token_usage_record"]
    return {k: sum(u[k] for u in records) for k in USAGE_KEYS}


def last_total(lines: list[dict]) -> dict:
    counts = [r["payload"]["info"] for r in lines if r["type"] == "event_msg"
              and r["payload"].get("type") == "token_count" and r["payload"].get("info")]
    return counts[-1]["total_token_usage"]


def items(lines: list[dict], kind: str) -> list[dict]:
    return [r["payload"] for r in lines if r["type"] == "response_item" and r["payload"].get("type") == kind]


def assert_calls_paired(lines: list[dict]) -> None:
    calls = {c["call_id"] for c in items(lines, "function_call")}
    outputs = {o["call_id"] for o in items(lines, "function_call_output")}
    assert calls and calls == outputs


# --------------------------------------------------------------------------- the stand-in


def test_stand_in_steps_through_run_lines():
    prompt = "Do it.\nRUN: echo one\nRUN: exit 3"
    body = {"tools": [{"type": "function", "name": "exec_command"}], "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context/>"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": prompt}]}]}
    first = decide(body, 1)
    assert [i["type"] for i in first.items] == ["reasoning", "function_call"]
    assert json.loads(first.items[1]["arguments"])["cmd"] == "echo one"
    body["input"] += [first.items[1], {"type": "function_call_output", "call_id": "c1", "output": "one"}]
    assert json.loads(decide(body, 2).items[1]["arguments"])["cmd"] == "exit 3"
    body["input"].append({"type": "function_call_output", "call_id": "c2", "output": "x"})
    last = decide(body, 3)
    assert last.final and last.items[0]["content"][0]["text"] == final_text(prompt)


def test_stand_in_plain_and_side_requests():
    plain = {"tools": [{}], "input": [{"type": "message", "role": "user", "content": "hello"}]}
    assert decide(plain, 1).items[0]["content"][0]["text"] == PLAIN_ANSWER
    assert decide({"input": plain["input"]}, 2).kind == "side"


# --------------------------------------------------------------------------- the real binary


@pytest.fixture
def codex_session(tmp_path, repo):
    """exec (two commands, one failing) then `exec resume --last`, hooks trusted in config.toml."""
    with FakeOpenAI() as api:
        home = codex_home(tmp_path / "codex-home", api.url)
        hooks = tmp_path / "hooks.jsonl"
        install_hooks(home, hooks, trust=True)
        env = codex_env(home)
        first = run_codex(repo, "Check.\nRUN: echo hello-ct\nRUN: ls /nonexistent-ct; exit 3", env,
                          extra_args=["--strict-config"])  # our config.toml has no unknown key
        assert first.returncode == 0, first.stderr
        second = run_codex(repo, "And the README?\nRUN: cat README.md", env, resume="last")
        assert second.returncode == 0, second.stderr
    return {"home": home, "api": api, "first": first, "second": second, "hooks": read_hooks(hooks)}


@needs_codex
def test_exec_and_resume_write_one_rollout(codex_session):
    s = codex_session
    assert s["first"].session_id and s["second"].session_id == s["first"].session_id
    rollout = find_rollout(s["home"], s["first"].session_id)
    assert rollout is not None
    lines = read_rollout(rollout)
    meta = lines[0]
    assert meta["type"] == "session_meta" and meta["payload"]["id"] == s["first"].session_id
    assert meta["payload"]["cli_version"] == CODEX_VERSION
    assert [r["type"] for r in lines].count("session_meta") == 1
    assert [r["payload"].get("type") for r in lines].count("task_complete") == 2

    # One token_usage_record per response; their sum is the last running total, and both are
    # exactly what the stand-in reported.
    assert sum(r["type"] == "token_usage_record" for r in lines) == len(s["api"].responses) == 5
    total = usage_sum(lines)
    assert total == last_total(lines)
    sent = s["api"].responses
    assert total["input_tokens"] == sum(r["usage"]["input_tokens"] for r in sent)
    assert total["cached_input_tokens"] == sum(r["usage"]["input_tokens_details"]["cached_tokens"] for r in sent)
    assert total["reasoning_output_tokens"] == sum(r["usage"]["output_tokens_details"]["reasoning_tokens"]
                                                   for r in sent) > 0
    assert total["cached_input_tokens"] > 0
    assert total["cache_write_input_tokens"] == sum(r["usage"]["input_tokens_details"]["cache_write_tokens"]
                                                    for r in sent) > 0
    # `exec --json` after a resume reports the session's totals, not the turn's.
    resumed = [e for e in s["second"].events() if e.get("type") == "turn.completed"][-1]["usage"]
    assert resumed["input_tokens"] == total["input_tokens"]

    assert_calls_paired(lines)
    commands = [r["payload"]["item"] for r in lines if r["payload"].get("type") == "item_completed"
                and r["payload"]["item"].get("type") == "CommandExecution"]
    assert [c["exit_code"] for c in commands] == [0, 3, 0]


@needs_codex
def test_trusted_hooks_get_stop_and_session_end_payloads(codex_session):
    s = codex_session
    rollout = str(find_rollout(s["home"], s["first"].session_id))
    lines = read_rollout(rollout)
    turns = [r["payload"]["turn_id"] for r in lines if r["type"] == "turn_context"]
    stops = [h["stdin"] for h in s["hooks"] if h["event"] == "Stop"]
    assert len(stops) == 2
    for stop, turn in zip(stops, turns, strict=True):
        assert stop["session_id"] == s["first"].session_id
        assert stop["transcript_path"] == rollout
        assert stop["turn_id"] == turn
        assert stop["hook_event_name"] == "Stop" and stop["stop_hook_active"] is False
    assert stops[0]["last_assistant_message"] == "Done: 2 command(s) and 0 subagent(s)."
    ends = [h["stdin"] for h in s["hooks"] if h["event"] == "SessionEnd"]
    assert len(ends) == 2 and all(e["reason"] for e in ends)
    # At Stop the rollout holds the turn except its task_complete line.
    first_stop = next(h for h in s["hooks"] if h["event"] == "Stop")
    first_complete = next(i for i, r in enumerate(lines, 1) if r["payload"].get("type") == "task_complete")
    assert first_stop["rollout_lines"] == first_complete - 1


@needs_codex
def test_untrusted_hooks_are_skipped(tmp_path, repo):
    with FakeOpenAI() as api:
        home = codex_home(tmp_path / "codex-home", api.url)
        install_hooks(home, tmp_path / "hooks.jsonl")  # no trust entry, no bypass
        run = run_codex(repo, "hello", codex_env(home))
    assert run.returncode == 0, run.stderr
    assert read_hooks(tmp_path / "hooks.jsonl") == []


# --------------------------------------------------------------------------- recorded fixtures


def fixture(name: str) -> tuple[list[Path], list[dict]]:
    folder = FIXTURES / name
    return sorted(folder.glob("rollout-*.jsonl")), read_hooks(folder / "hooks.jsonl")


@pytest.mark.parametrize("name", ["exec", "resume", "subagent"])
def test_fixture_totals_match_records(name):
    rollouts, _ = fixture(name)
    assert rollouts
    for path in rollouts:
        lines = read_rollout(path)
        assert lines[0]["type"] == "session_meta"
        assert usage_sum(lines) == last_total(lines)
        assert_calls_paired(lines)


def test_fixture_subagent_has_its_own_rollout_and_totals():
    rollouts, hooks = fixture("subagent")
    metas = {p: read_rollout(p)[0]["payload"] for p in rollouts}
    (parent,) = [p for p, m in metas.items() if "parent_thread_id" not in m]
    (agent,) = [p for p, m in metas.items() if "parent_thread_id" in m]
    assert metas[agent]["parent_thread_id"] == metas[parent]["id"]
    assert metas[agent]["session_id"] == metas[parent]["id"]  # the session is the parent's
    stop = next(h["stdin"] for h in hooks if h["event"] == "SubagentStop")
    assert stop["agent_id"] == metas[agent]["id"]
    assert stop["transcript_path"].endswith(parent.name) and stop["agent_transcript_path"].endswith(agent.name)
    # The parent's running total leaves the subagent's tokens out.
    assert last_total(read_rollout(parent)) == usage_sum(read_rollout(parent))


def test_fixture_older_uses_older_event_names():
    (path,), _ = fixture("older")
    kinds = {r["payload"].get("type") for r in read_rollout(path) if r["type"] == "event_msg"}
    assert {"user_message", "agent_message", "exec_command_end", "token_count"} <= kinds
