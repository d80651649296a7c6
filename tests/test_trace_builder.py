"""The trace builder: a turn record becomes tags, metadata and spans with no store at all."""

import json
import os

from transcripts import Transcript

import traces

TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


def claude_turn(tmp_path):
    t = Transcript(session="sess-build-1")
    t.prompt("deploy it")
    tool = t.tool("Bash", {"command": f"GITHUB_TOKEN={TOKEN} ./deploy.sh"}, text="Deploying.")
    t.result(tool, "Exit code 1\n" + "x" * 3000, is_error=True)
    t.text("The deploy failed.")
    records, _, _ = traces.read_lines(t.write(tmp_path / "projects"), 0, True)
    [raw] = traces.split_turns(records)
    turn = traces.analyse(raw["records"], traces.parse_time(raw["records"][0]["timestamp"]))
    turn.update(id="sess-build-1:" + raw["records"][0]["uuid"], session="sess-build-1")
    return turn


def test_a_turn_record_becomes_spans_and_tags_without_a_store(tmp_path):
    builder = traces.TraceBuilder({"CLAUDETRACING_MAX_PAYLOAD": "1000", "CLAUDETRACING_ENRICHMENTS": "tokens"})
    turn = claude_turn(tmp_path)
    tags, metadata = builder.describe(turn, {"cwd": str(tmp_path), "env": {"CLAUDETRACING_ENRICHMENTS": "tokens"}})
    spans = builder.spans(turn, "tr-" + "1" * 32, "7")

    assert tags["agent"] == "claude" and tags[traces.TAG_STATUS] == "error"
    assert json.loads(tags[traces.TAG_TOOLS]) == {"Bash": 1} and tags["tokens.total"] == str(turn["usage"]["total"])
    assert metadata["mlflow.trace.session"] == "sess-build-1" and metadata["mlflow.source.name"] == "claude-code"
    root, *children = spans
    assert root["name"] == "claude_code_conversation" and root["parent_span_id"] is None
    assert json.loads(root["attributes"]["mlflow.experimentId"]) == "7"
    assert json.loads(root["attributes"]["mlflow.spanInputs"]) == {"prompt": "deploy it"}
    assert [(s["name"], s["parent_span_id"]) for s in children] == \
        [("llm", root["span_id"]), ("tool_Bash", root["span_id"]), ("llm", root["span_id"])]
    tool = children[1]
    assert tool["status"]["code"] == "STATUS_CODE_ERROR"
    assert TOKEN not in tool["attributes"]["mlflow.spanInputs"] and "[REDACTED:" in tool["attributes"]["mlflow.spanInputs"]
    assert "truncated by claudetracing" in tool["attributes"]["mlflow.spanOutputs"]     # cut at 1000 characters
    assert all(s["trace_id"] == "tr-" + "1" * 32 and s["end_time_unix_nano"] >= s["start_time_unix_nano"]
               for s in spans)
    assert not os.path.exists(os.environ["TRACES_HOME"])          # no store was opened, nothing was written


def test_built_spans_are_mlflow_spans():
    from mlflow.entities import Span
    turn = {"agent": "codex", "prompt": "hi", "answer": "hello", "start": 1.0, "end": 2.0, "steps": []}
    [root] = traces.TraceBuilder({}).spans(turn, "tr-" + "2" * 32, "0")
    span = Span.from_dict(root)
    assert span.name == "codex_conversation" and span.inputs == {"prompt": "hi"} and span.outputs == {"response": "hello"}
