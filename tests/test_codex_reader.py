"""Codex CLI rollouts → turn records (the engine's reading half for Codex), on the rollouts
recorded from codex 0.169.0 (tests/fixtures/codex-0.169.0) and hand-written edge cases."""

import json
import os
import shutil
from pathlib import Path

import codex_harness
import pytest

import traces

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "codex-0.169.0"
EXEC_SESSION = "01a23708-9c7d-7473-a729-9611536ba219"
PARENT, AGENT = "01a23708-ac3d-70f0-94c8-de743ed08a4a", "01a23708-acf3-7551-941e-bb497b05717f"


def rollout(name, session=None):
    found = sorted((FIXTURES / name).glob(f"rollout-*{session or ''}.jsonl"))
    assert found, name
    return str(found[0])


def read_turns(path, offset=0):
    records, end, bad = traces.codex_read(path, offset)
    return traces.codex_turns(records, traces.codex_session_meta(path), path), end, bad


def last_token_count(path):
    """The rollout's own running total, in our usage keys."""
    return traces.codex_usage(codex_harness.last_token_count(path))


def own_llm_usage(turns):
    """The usage of the turns' own model responses, subagents' left out."""
    usage = traces.empty_usage()
    for turn in turns:
        for step in turn["steps"]:
            if step["kind"] == "llm":
                traces.add_usage(usage, step["usage"])
    return usage


def write_rollout(path, lines, tail=b""):
    with open(path, "wb") as f:
        for line in lines:
            f.write((line if isinstance(line, str) else json.dumps(line)).encode() + b"\n")
        f.write(tail)
    return str(path)


def line(kind, payload, second=0):
    return {"timestamp": f"2026-12-02T10:00:{second:02d}.000Z", "type": kind, "payload": payload}


def event(payload, second=0):
    return line("event_msg", payload, second)


def item(payload, second=0):
    return line("response_item", payload, second)


META = line("session_meta", {"id": "sess-x", "cwd": "/work/widgets", "cli_version": "0.169.0",
                             "git": {"branch": "feature"}})


def usage_record(n, second):
    return line("token_usage_record", {"response_id": f"resp-{n}", "usage": {
        "input_tokens": 100, "cached_input_tokens": 60, "cache_write_input_tokens": 10, "output_tokens": 20,
        "reasoning_output_tokens": 5, "total_tokens": 120}}, second)


def turn_lines(turn_id, prompt, second=0):
    return [event({"type": "task_started", "turn_id": turn_id}, second),
            line("turn_context", {"turn_id": turn_id, "model": "gpt-5", "cwd": "/work/widgets"}, second),
            item({"type": "message", "role": "user", "content": [{"type": "input_text", "text": prompt}]}, second)]


# --- the recorded rollouts ------------------------------------------------------------------

@pytest.mark.parametrize("path", [rollout("exec"), rollout("resume"), rollout("subagent", PARENT),
                                  rollout("subagent", AGENT), rollout("older")], ids=os.path.basename)
def test_model_responses_add_up_to_the_rollouts_last_token_count(path):
    turns, _, bad = read_turns(path)
    assert bad == 0 and turns
    ours, theirs = own_llm_usage(turns), last_token_count(path)
    assert {k: ours[k] for k in traces.TOKEN_KINDS + ("total", "reasoning")} == \
        {k: theirs[k] for k in traces.TOKEN_KINDS + ("total", "reasoning")}


def test_usage_counts_cached_input_cache_writes_and_reasoning_once():
    usage = traces.codex_usage({"input_tokens": 876, "cached_input_tokens": 100, "cache_write_input_tokens": 438,
                                "output_tokens": 37, "reasoning_output_tokens": 17, "total_tokens": 913})
    assert usage["input"] == 338 and usage["cache_read"] == 100 and usage["cache_creation"] == 438
    assert usage["output"] == 37 and usage["reasoning"] == 17        # reasoning is part of the output
    assert usage["total"] == 913                                      # Codex's own total_tokens


def test_exec_turn():
    path = rollout("exec")
    (turn,), end, _ = read_turns(path)
    assert end == os.path.getsize(path)
    assert turn["id"] == f"{EXEC_SESSION}:01a23708-9cc7-7f11-8c85-0baea312d501" and turn["session"] == EXEC_SESSION
    assert turn["agent"] == "codex" and turn["offset"] > 0 and turn["ended"] and not turn["interrupted"]
    assert turn["prompt"].startswith("Check the repository.\nRUN: git status")
    assert turn["answer"] == "Done: 2 command(s) and 0 subagent(s)."
    assert turn["meta"] == {"cwd": "/tmp/claudetracing-codex-fixture/exec/widgets", "version": "0.169.0",
                            "git_branch": "main"}
    assert [s["kind"] for s in turn["steps"]] == ["llm", "tool", "llm", "tool", "llm"]
    assert turn["models"] == ["gpt-test"] and turn["cost"] is None           # the stand-in model has no price
    assert turn["tool_counts"] == {"exec_command": 2} and turn["tool_errors"] == 1 and turn["waiting"] == []
    ok, failed = [s for s in turn["steps"] if s["kind"] == "tool"]
    assert ok["input"]["cmd"] == "git status --short --branch" and "## main" in ok["result"] and not ok["error"]
    assert failed["error"] and failed["meta"]["exit_code"] == 3 and failed["meta"]["status"] == "failed"
    assert failed["meta"]["command"][-1] == "ls /nonexistent-ct-dir; exit 3"
    assert 0 < failed["meta"]["duration"] < 1
    first, second, last = [s for s in turn["steps"] if s["kind"] == "llm"]
    assert [b["type"] for b in first["content"]] == ["thinking", "tool_use"] and first["inputs"] == []
    assert second["inputs"][0]["content"][0]["tool_use_id"] == ok["id"]
    assert last["content"] == [{"type": "text", "text": turn["answer"]}]
    assert all(s["start"] <= s["end"] for s in turn["steps"])
    assert [s["start"] for s in turn["steps"]] == sorted(s["start"] for s in turn["steps"])
    assert turn["usage"]["total"] == 3199 and turn["usage"]["reasoning"] == 35


def test_resume_reads_on_from_the_first_turn_to_exactly_the_second():
    path = rollout("resume")
    (first, second), end, _ = read_turns(path)
    assert first["ended"] and second["ended"] and end == os.path.getsize(path)
    first_end = first_turn_end(path)
    records, later_end, _ = traces.codex_read(path, first_end)
    (again,) = traces.codex_turns(records, traces.codex_session_meta(path), path)
    assert later_end == end and again["session"] == first["session"] == EXEC_SESSION
    assert again["id"] == second["id"] and again["offset"] == second["offset"] > first_end
    assert again["prompt"] == second["prompt"] == "What does the README say?\nRUN: cat README.md"
    assert again["usage"] == second["usage"] and again["tool_counts"] == {"exec_command": 1}


def first_turn_end(path):
    """The offset just past the first task_complete line."""
    offset = 0
    with open(path, "rb") as f:
        for raw in f:
            offset += len(raw)
            if b'"task_complete"' in raw:
                return offset
    raise AssertionError("no task_complete")


def test_subagent_runs_nest_under_spawn_agent_with_their_own_tokens():
    parent, agent = rollout("subagent", PARENT), rollout("subagent", AGENT)
    (turn,), _, _ = read_turns(parent)
    (spawn,) = [s for s in turn["steps"] if s["kind"] == "tool" and s["name"] == "spawn_agent"]
    sub = spawn["subagent"]
    assert sub["agent_id"] == AGENT and sub["type"] == "default" and sub["ended"]
    assert sub["prompt"] == "RUN: echo hello from the subagent" and sub["answer"].startswith("Done: 1 command")
    assert [s["kind"] for s in sub["steps"]] == ["llm", "tool", "llm"]
    # The agent's tokens are in its own rollout, not in the parent's token_count totals.
    assert own_llm_usage([turn])["total"] == last_token_count(parent)["total"] == 3257
    both = traces.add_usage(last_token_count(parent), last_token_count(agent))
    assert {k: turn["usage"][k] for k in traces.TOKEN_KINDS + ("total",)} == \
        {k: both[k] for k in traces.TOKEN_KINDS + ("total",)}
    assert turn["tool_counts"] == {"spawn_agent": 1, "wait_agent": 1, "exec_command": 1}
    assert turn["waiting"] == [] and turn["ended"]
    assert spawn["start"] <= sub["start"] and sub["end"] <= spawn["end"] <= turn["end"]


def test_an_agent_rollout_is_found_by_id_in_another_days_folder(tmp_path):
    sessions = tmp_path / "codex-home" / "sessions"
    for day, session in (("02", PARENT), ("03", AGENT)):
        (sessions / "2026" / "12" / day).mkdir(parents=True)
        shutil.copy(rollout("subagent", session), sessions / "2026" / "12" / day)
    parent = str(next((sessions / "2026" / "12" / "02").iterdir()))
    assert traces.codex_agent_rollout(parent, AGENT) == str(next((sessions / "2026" / "12" / "03").iterdir()))
    (turn,), _, _ = read_turns(parent)
    assert turn["usage"]["total"] == 3257 + 1938 and turn["waiting"] == []


def test_a_turn_waits_for_an_agent_whose_rollout_is_missing_or_unfinished(tmp_path):
    folder = tmp_path / "rollouts"
    folder.mkdir()
    parent = shutil.copy(rollout("subagent", PARENT), folder)
    (turn,), _, _ = read_turns(parent)
    assert turn["waiting"] == [AGENT] and turn["usage"]["total"] == 3257
    lines = open(rollout("subagent", AGENT)).read().splitlines()
    write_rollout(folder / os.path.basename(rollout("subagent", AGENT)), [x for x in lines if "task_complete" not in x])
    (turn,), _, _ = read_turns(parent)
    assert turn["waiting"] == [AGENT] and turn["usage"]["total"] == 3257 + 1938


def test_older_rollout():
    (first, second), _, _ = read_turns(rollout("older"))
    assert first["prompt"] == "Check the repository.\nRUN: ls\nRUN: ls /nonexistent-ct-dir; exit 2"
    assert first["answer"].startswith("The repository holds README.md") and second["answer"] == "You're welcome."
    assert first["ended"] and second["ended"] and first["session"] == second["session"]
    assert first["id"] != second["id"] and second["offset"] > first["offset"]
    assert first["tool_counts"] == {"shell": 2} and first["tool_errors"] == 1
    failed = [s for s in first["steps"] if s["kind"] == "tool"][1]
    assert failed["error"] and failed["meta"]["exit_code"] == 2 and failed["input"]["command"][-1].endswith("exit 2")
    assert first["models"] == ["gpt-5-codex"]
    usage = first["usage"]         # priced: 1.25 input (and cache writes), 0.125 cached, 10 output per 1M tokens
    assert first["cost"] == pytest.approx((usage["input"] * 1.25 + usage["cache_read"] * 0.125
                                           + usage["output"] * 10) / 1e6)
    llm = first["steps"][0]
    assert traces.llm_attributes(llm)["mlflow.llm.cost"] == pytest.approx(
        {"input_cost": 900 * 1.25 / 1e6, "output_cost": 40 * 10 / 1e6, "total_cost": llm["cost"]})


# --- edge cases -----------------------------------------------------------------------------

def test_malformed_lines_are_counted_and_skipped_and_a_partial_line_waits(tmp_path):
    lines = [META, *turn_lines("t1", "hello"), "{not json", usage_record(1, 1),
             item({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "hi"}]}, 1),
             event({"type": "task_complete", "turn_id": "t1", "last_agent_message": "hi"}, 2)]
    path = write_rollout(tmp_path / "rollout-x-sess-x.jsonl", lines, tail=b'{"timestamp": "2026-12-02T10:00:03')
    (turn,), end, bad = read_turns(path)
    assert bad == 1 and end == os.path.getsize(path) - len(b'{"timestamp": "2026-12-02T10:00:03')
    assert turn["ended"] and turn["answer"] == "hi" and turn["usage"]["total"] == 120
    assert turn["id"] == "sess-x:t1" and turn["meta"]["git_branch"] == "feature"


def test_a_turn_without_task_complete_is_unfinished(tmp_path):
    lines = [META, *turn_lines("t1", "build it"),
             item({"type": "function_call", "name": "exec_command", "arguments": '{"cmd": "make"}', "call_id": "c1"}, 1),
             usage_record(1, 1)]
    (turn,), _, _ = read_turns(write_rollout(tmp_path / "rollout-x-sess-x.jsonl", lines))
    assert not turn["ended"] and not turn["interrupted"] and turn["prompt"] == "build it"
    assert [s["kind"] for s in turn["steps"]] == ["llm", "tool"] and turn["steps"][1]["result"] is None


def test_an_interrupted_command_ends_the_turn_as_interrupted(tmp_path):
    lines = [META, *turn_lines("t1", "sleep a while"),
             item({"type": "function_call", "name": "exec_command", "arguments": '{"cmd": "sleep 600"}',
                   "call_id": "c1"}, 1),
             usage_record(1, 1),
             event({"type": "turn_aborted", "turn_id": "t1", "reason": "interrupted"}, 9)]
    (turn,), _, _ = read_turns(write_rollout(tmp_path / "rollout-x-sess-x.jsonl", lines))
    assert turn["ended"] and turn["interrupted"]
    tool = turn["steps"][1]
    assert tool["error"] and tool["end"] == turn["end"] and turn["tool_errors"] == 1


def test_notifications_and_context_are_no_prompts_and_patched_files_are_listed(tmp_path):
    patch = "*** Begin Patch\n*** Add File: src/new.py\n+x\n*** Update File: /abs/old.py\n@@\n-a\n+b\n*** End Patch"
    lines = [META, event({"type": "task_started", "turn_id": "t1"}),
             line("turn_context", {"turn_id": "t1", "model": "gpt-5", "cwd": "/work/widgets"}),
             item({"type": "message", "role": "user", "content": [{"type": "input_text",
                                                                   "text": "<environment_context>x</environment_context>"}]}),
             item({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "patch it"}]}),
             item({"type": "custom_tool_call", "name": "apply_patch", "input": patch, "call_id": "c1"}, 1),
             usage_record(1, 1),
             item({"type": "custom_tool_call_output", "call_id": "c1", "output": "Success."}, 2),
             item({"type": "message", "role": "user", "content": [{"type": "input_text",
                                                                   "text": "<subagent_notification>{}</subagent_notification>"}]}, 2),
             usage_record(2, 3),
             event({"type": "task_complete", "turn_id": "t1", "last_agent_message": "patched"}, 3)]
    (turn,), _, _ = read_turns(write_rollout(tmp_path / "rollout-x-sess-x.jsonl", lines))
    assert turn["prompt"] == "patch it" and turn["answer"] == "patched"
    assert turn["files"] == ["/work/widgets/src/new.py", "/abs/old.py"]
    assert turn["steps"][1]["input"] == {"input": patch} and turn["steps"][1]["result"] == "Success."
    second = turn["steps"][2]["inputs"]
    assert [m["content"][0]["type"] for m in second] == ["tool_result", "text"]
    # 30 fresh input + 10 cache writes at the input price, 60 cached, 20 out, twice
    assert turn["cost"] == pytest.approx(2 * (40 * 1.25 + 60 * 0.125 + 20 * 10) / 1e6)


# Models Codex users run that the old built-in table (OPENAI_PRICES) did not price.
NEWER_MODELS = ["gpt-5.1-codex", "gpt-5.1-codex-max", "gpt-5.1-codex-mini", "gpt-5.1", "gpt-5.2",
                "gpt-5.2-codex", "gpt-5.3-codex", "gpt-5.4", "gpt-5.5", "gpt-5-pro", "gpt-4o",
                "gemini-2.5-flash", "gemini-2.5-pro"]


def genai_usage(usage):
    """Our usage as genai-prices' own Usage: OpenAI's input_tokens hold cached input."""
    from genai_prices import Usage
    return Usage(input_tokens=usage["input"] + usage["cache_read"] + usage["cache_creation"],
                 cache_read_tokens=usage["cache_read"], cache_write_tokens=usage["cache_creation"],
                 output_tokens=usage["output"])


@pytest.mark.parametrize("model", NEWER_MODELS + list(traces.OPENAI_PRICES))
def test_models_outside_claude_codes_catalog_are_priced_by_genai_prices(model):
    from genai_prices import calc_price
    usage = {**traces.empty_usage(), "input": 30_000, "cache_read": 120_000, "cache_creation": 500, "output": 2_000}
    assert traces.cost_of(model, usage) == pytest.approx(float(calc_price(genai_usage(usage), model).total_price))


def test_cached_input_is_charged_once_at_the_cached_price():
    # gpt-5.1-codex: $1.25 input (cache writes too), $0.125 cached input, $10 output per 1M tokens;
    # codex_usage took the cached and written tokens out of OpenAI's input_tokens.
    usage = traces.codex_usage({"input_tokens": 150_500, "cached_input_tokens": 120_000,
                                "cache_write_input_tokens": 500, "output_tokens": 2_000})
    assert traces.cost_of("gpt-5.1-codex", usage) == pytest.approx(
        (30_000 * 1.25 + 120_000 * 0.125 + 500 * 1.25 + 2_000 * 10) / 1e6)


def test_the_provider_codex_names_picks_the_catalog_entry(tmp_path):
    """codex-mini-latest is OpenAI's name, priced when the rollout says model_provider openai;
    a provider the catalog does not list (a custom one) leaves the model id alone to decide."""
    from genai_prices import Usage, calc_price
    usage = {**traces.empty_usage(), "input": 1_000_000, "output": 1_000_000}
    expected = float(calc_price(Usage(input_tokens=1_000_000, output_tokens=1_000_000), "codex-mini-latest",
                                provider_id="openai").total_price)
    assert traces.cost_of("codex-mini-latest", usage, provider="openai") == pytest.approx(expected)
    assert traces.cost_of("codex-mini-latest", usage) is None
    for _ in range(2):                                           # the second time from what was learnt
        assert traces.cost_of("gpt-5.1-codex", usage, provider="ctfake") == traces.cost_of("gpt-5.1-codex", usage)
        assert traces.cost_of("codex-mini-latest", usage, provider="openai") == pytest.approx(expected)
    text = open(rollout("older")).read()
    assert '"model_provider":"openai"' in text
    older = write_rollout(tmp_path / Path(rollout("older")).name,
                          text.replace('"model":"gpt-5-codex"', '"model":"codex-mini-latest"').splitlines())
    (first, _), _, _ = read_turns(older)
    assert first["models"] == ["codex-mini-latest"] and first["cost"] > 0


def test_a_model_no_catalog_knows_has_no_price():
    usage = {**traces.empty_usage(), "input": 1_000_000}
    for unknown in ("gpt-test", "gpt-9", "", None):
        assert traces.cost_of(unknown, usage) is None
        assert traces.cost_of(unknown, usage) is None            # asked again: remembered


def test_a_price_is_the_one_in_force_on_the_day_of_the_request():
    from datetime import datetime, timezone

    from genai_prices import calc_price
    usage = {**traces.empty_usage(), "input": 1_000_000, "output": 1_000_000}
    costs = []
    for day in (datetime(2025, 5, 1, tzinfo=timezone.utc), datetime(2025, 7, 1, tzinfo=timezone.utc)):
        expected = calc_price(genai_usage(usage), "o3", genai_request_timestamp=day).total_price
        costs.append(traces.cost_of("o3", usage, when=day.timestamp()))
        assert costs[-1] == pytest.approx(float(expected))
    assert costs[0] > costs[1]                              # o3's price fell in June 2025


def test_claude_models_never_import_genai_prices():
    """Half a second of import that a Claude Code session's worker does not pay."""
    import subprocess
    import sys
    code = ("import sys, traces\n"
            "usage = {**traces.empty_usage(), 'input': 1000}\n"
            "assert traces.cost_of('claude-opus-5-5', usage) and traces.cost_of('claude-haiku-4-5-20251001', usage)\n"
            "assert 'genai_prices' not in sys.modules\n"
            "assert traces.cost_of('gpt-5.5', usage) and 'genai_prices' in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=Path(traces.__file__).parent, check=True)


def test_without_genai_prices_the_builtin_table_prices_and_the_rest_is_unpriced():
    """A vendored traces.py run by a bare Python (-S: no site-packages, so no genai-prices)."""
    import subprocess
    import sys
    code = ("import json, traces\n"
            "usage = {**traces.empty_usage(), 'input': 1_000_000, 'cache_read': 1_000_000, 'output': 1_000_000}\n"
            "print(json.dumps({m: traces.cost_of(m, usage) for m in sys.argv[1:]}))")
    models = ["gpt-5", "gpt-5-2025-08-07", "gpt-5-mini", "o4-mini", "gpt-5-pro", "gpt-5.1-codex", "gpt-5.5",
              "claude-opus-5-5"]
    done = subprocess.run([sys.executable, "-S", "-c", "import sys\n" + code, *models], capture_output=True,
                          text=True, cwd=Path(traces.__file__).parent, check=True)
    costs = json.loads(done.stdout)
    assert costs["gpt-5"] == pytest.approx(1.25 + 0.125 + 10) and costs["gpt-5-2025-08-07"] == costs["gpt-5"]
    assert costs["gpt-5-mini"] == pytest.approx(0.25 + 0.025 + 2) and costs["o4-mini"] == pytest.approx(1.1 + 0.275 + 4.4)
    assert costs["gpt-5-pro"] is None and costs["gpt-5.1-codex"] is None and costs["gpt-5.5"] is None
    assert costs["claude-opus-5-5"] == pytest.approx(4 + 0.2 + 20)     # Claude Code's catalog needs no library


# --- through the existing Uploader ----------------------------------------------------------

def test_a_codex_turn_becomes_a_trace_in_the_local_store():
    (turn,), _, _ = read_turns(rollout("subagent", PARENT))
    uri = "sqlite:///" + os.path.join(os.environ["TRACES_HOME"], "mlflow.db")
    uploader = traces.Uploader({"MLFLOW_TRACKING_URI": uri, "MLFLOW_EXPERIMENT_NAME": "acme/widgets"})
    context = {"env": {"CLAUDETRACING_ENRICHMENTS": "tokens,cost,files"}}
    trace_id = uploader.upload(turn, context, lambda trace_id: None)
    trace = uploader.client.get_trace(trace_id)
    tags = trace.info.tags
    assert tags["agent"] == "codex" and tags[traces.TAG_TURN] == turn["id"]
    assert {k: tags[f"tokens.{k}"] for k in ("input", "output", "cache_read", "cache_creation", "total")} == \
        {k: str(turn["usage"][k]) for k in ("input", "output", "cache_read", "cache_creation", "total")}
    assert tags["tokens.total"] == str(3257 + 1938) and "cost.usd" not in tags
    assert trace.info.trace_metadata["mlflow.trace.session"] == PARENT
    spans = trace.data.spans
    kinds = sorted((s.name, s.span_type) for s in spans)
    assert kinds.count(("llm", "LLM")) == 5 and kinds.count(("tool_exec_command", "TOOL")) == 1
    assert ("tool_spawn_agent", "TOOL") in kinds and ("subagent_default", "AGENT") in kinds
    root = next(s for s in spans if s.parent_id is None)
    assert root.inputs == {"prompt": turn["prompt"]} and root.outputs == {"response": turn["answer"]}
    tags, _ = uploader.builder.describe({k: v for k, v in turn.items() if k != "agent"}, context)
    assert tags["agent"] == "claude"          # a Claude Code turn has no `agent` key
