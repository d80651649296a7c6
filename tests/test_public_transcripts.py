"""Transcripts we did not write: public Claude Code sessions of 1.0.55 to 2.1.38, taken from
open-source projects' test data (tests/fixtures/public/ORIGINS.md says which, with licences).

Each is checked against an independent count, made here the simplest way: every API response
(message id + request id) once, its last usage line, over the main file, its sidechain lines
and its subagent files. Plus what each shows about turns: custom slash commands, interrupts,
subagents nested under the call that launched them, compaction summaries that are no prompts.
"""

import json
import os
import shutil
from pathlib import Path

import pytest
from helpers import traced_totals

import traces

PUBLIC = Path(__file__).resolve().parent / "fixtures" / "public"
KINDS = ("input", "output", "cache_read", "cache_creation")


def independent_count(paths):
    responses = {}
    for path in paths:
        for line in open(path, "rb"):
            record = json.loads(line)
            message = record.get("message")
            if record.get("type") == "assistant" and isinstance(message, dict) and isinstance(message.get("usage"), dict):
                responses[(message.get("id"), record.get("requestId"))] = message["usage"]
    fields = {"input": "input_tokens", "output": "output_tokens", "cache_read": "cache_read_input_tokens",
              "cache_creation": "cache_creation_input_tokens"}
    return {k: sum(u.get(f) or 0 for u in responses.values()) for k, f in fields.items()}


def traced(path):
    """Our turns for one session file, analysed as the worker does after SessionEnd."""
    records, _, bad = traces.read_lines(str(path), 0, True)
    agents = traces.Subagents(str(path)[:-len(".jsonl")] + "/subagents")
    turns = [traces.analyse(t["records"], 0, agents) for t in traces.split_turns(records)]
    total = traces.empty_usage()
    for turn in turns:
        traces.add_usage(total, turn["usage"])
    return turns, {k: total[k] for k in KINDS}, bad


# name: (main file, other files of the same session, turns expected)
CASES = {
    "ccv-1.0.108-orchestrator": ("5c0375b4-57a5-4f26-b12d-d022ee4e51b7.jsonl", [], 1),
    "ccl-1.0.55-clear-interrupts": ("b45ad5d8-81fb-4bcb-baba-19d9f503d731.jsonl", [], 1),
    "ccl-2.0.0-summaries": ("3680252d-d4e3-4416-bddd-8f5b5b4fdb7f.jsonl", [], 0),
    "ccl-2.1.17-subagents": ("29ccd257-68b1-427f-ae5f-6524b7cb6f20.jsonl",
                             ["29ccd257-68b1-427f-ae5f-6524b7cb6f20/subagents/agent-a2271d1.jsonl"], 1),
    # 2.0 kept agent files beside the session file; these two are warm-up agents no call launched.
    "ccl-2.0.28-warmup-agents": ("5ed31c36-bca8-40fd-8d24-f1a1f0af7901.jsonl",
                                 ["agent-c3d572ee.jsonl", "agent-c63fe96c.jsonl"], 1),
    "fasthooks-2.0.76-compact": ("sample_main_transcript.jsonl", [], 5),
    "spotter-2.1.38-interrupts/short": ("short.jsonl", [], 1),
    "spotter-2.1.38-interrupts/tool_heavy": ("tool_heavy.jsonl", [], 2),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_response_counted_once(name, tmp_path):
    """Through the worker's own path (trace_session after SessionEnd) into a local store."""
    main, others, count = CASES[name]
    folder = PUBLIC / name.split("/")[0]
    copy = tmp_path / "projects" / "-public"
    shutil.copytree(folder, copy)
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db", "MLFLOW_EXPERIMENT_NAME": "public"}
    uploader = traces.Uploader(env)
    assert traces.trace_session(main[:-len(".jsonl")], str(copy / main), uploader, final=True) == count
    found = uploader.client.search_traces(locations=[uploader.experiment()], max_results=100) if count else []
    assert traced_totals(found) == independent_count([folder / main] + [folder / o for o in others])


def test_a_custom_slash_command_of_1_0_108_is_a_turn_with_its_subagents_nested():
    [turn], ours, _ = traced(PUBLIC / "ccv-1.0.108-orchestrator" / CASES["ccv-1.0.108-orchestrator"][0])
    assert turn["prompt"].startswith("/orchestrator @CLAUDE.md") and turn["command"] == "/orchestrator"
    nested = [s for s in turn["steps"] if s.get("subagent")]
    assert len(nested) == 2, "the two sidechain threads sit under the Task calls that launched them"
    assert all(s["name"] == "Task" and s["subagent"]["steps"] for s in nested)
    top = [s for s in turn["steps"] if s["kind"] == "llm"]
    assert sum(s["usage"]["total"] for s in top) < turn["usage"]["total"], "subagent tokens are theirs, and counted"


def test_interrupt_markers_of_2_1_38_end_turns_and_start_none():
    turns, _, _ = traced(PUBLIC / "spotter-2.1.38-interrupts" / "tool_heavy.jsonl")
    assert all(t["interrupted"] for t in turns)
    assert not any(t["prompt"].startswith("[Request interrupted") for t in turns)


def test_compaction_summary_of_2_0_76_is_no_prompt():
    turns, _, _ = traced(PUBLIC / "fasthooks-2.0.76-compact" / "sample_main_transcript.jsonl")
    assert not any("continued from a previous conversation" in t["prompt"] for t in turns)
    assert [t["prompt"].split()[0] for t in turns] == ["can", "ok", "can", "can", "do"]


def test_the_origins_are_written_down():
    origins = (PUBLIC / "ORIGINS.md").read_text()
    for name in {n.split("/")[0] for n in CASES}:
        assert name in origins
    assert os.path.getsize(PUBLIC / "ORIGINS.md") > 0
