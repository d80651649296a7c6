"""Nothing from a trace drives the user's terminal: every text output shows a trace's control
characters escaped, `-f json` gives them back exactly, and the store keeps them as they came."""

import json
import re
import sys

import pytest
from helpers import traces_cli
from transcripts import Transcript

import traces

# One of each: the window title (OSC 0), clear screen (CSI 2J), a hidden hyperlink (OSC 8), a
# clipboard write (OSC 52), the one-byte C1 CSI, DEL, right-to-left and isolate overrides, a
# carriage return that would write over what came before.
EVIL = ("a\x1b]0;pwned\x07b\x1b[2Jc\x1b]8;;http:evil\x1b\\here\x1b]8;;\x1b\\d\x1b]52;c;cm0gLXJm\x07"
        "e\x9b31mf\x7fg\u202egnp.exe\u2066h\u2069i\rj")
EXPERIMENT = "team" + EVIL
BRANCH = "feature/" + EVIL
PROMPT = "Fix it " + EVIL
ANSWER = "Fixed " + EVIL
TOOL = "mcp__x__" + EVIL
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def escaped(text):
    """text as a terminal must show it: each dangerous character written out, nothing else changed."""
    return RAW.sub(lambda m: f"\\x{ord(m[0]):02x}" if m[0] < " " else f"\\u{ord(m[0]):04x}", text)


def shown(out, text):
    """No raw control reaches the output and text is there, escaped."""
    assert not RAW.search(out), repr(RAW.search(out))
    assert escaped(text) in out, f"{escaped(text)!r} not in {out!r}"


@pytest.fixture
def traced(repo, tmp_path, capsys):
    """A session whose prompt, answer, tool name and output, file name and branch carry EVIL,
    imported into a local store under an experiment whose name carries it too."""
    (repo / ".claude").mkdir()
    (repo / ".claude" / "traces.json").write_text(json.dumps({"experiment": EXPERIMENT}))
    t = Transcript(cwd=str(repo))
    t.prompt(PROMPT)
    edit = t.tool("Edit", {"file_path": str(repo / f"src/{EVIL}.py"), "old_string": "a", "new_string": "b"})
    t.result(edit, f"edited {EVIL}")
    call = t.tool(TOOL, {"q": EVIL})
    t.result(call, f"output {EVIL}")
    t.text(ANSWER)
    for line in t.lines:
        line["gitBranch"] = BRANCH
    path = t.write(str(tmp_path / "projects"))
    assert traces.main(["import", path]) == 0
    return capsys.readouterr()



def run(capsys, *argv):
    code = traces.main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def first_line(text):
    return text.split("\r")[0]        # a summary shows a prompt's first line; CR ends a line


def test_search_shows_a_traces_controls_escaped(traced, capsys):
    shown(traced.out, EXPERIMENT)                                   # "Imported ... (experiment ...)"
    out = run(capsys, "search")
    for text in (first_line(PROMPT), BRANCH, TOOL, f"src/{EVIL}.py"):
        shown(out, text)
    out = run(capsys, "search", "-f", "context")
    for text in (first_line(PROMPT), first_line(ANSWER), BRANCH, TOOL, f"src/{EVIL}.py"):
        shown(out, text)
    shown(run(capsys, "search", "-f", "tools"), TOOL)


def test_list_report_status_and_doctor_show_them_escaped(traced, capsys):
    shown(run(capsys, "list"), EXPERIMENT)
    shown(run(capsys, "report", "--by", "branch"), BRANCH)
    shown(run(capsys, "status"), EXPERIMENT)
    traces.main(["doctor", "--no-roundtrip"])       # fails: the repository has no hooks
    out, err = capsys.readouterr()
    shown(out + err, EXPERIMENT)


def test_json_gives_the_exact_text_back_and_the_store_keeps_it(traced, capsys):
    out = run(capsys, "search", "-f", "json")
    assert not RAW.search(out)                  # safe on a terminal, and still the same JSON
    [found] = json.loads(out)["traces"]
    assert found["request_preview"] == PROMPT and found["response_preview"] == ANSWER
    assert found["tags"]["git.branch"] == BRANCH
    assert json.loads(found["tags"]["files.modified"]) == [f"src/{EVIL}.py"]
    [tool] = [s for s in found["spans"] if s["name"] == "tool_" + TOOL]
    assert (tool["inputs"], tool["outputs"]) == ({"q": EVIL}, {"result": f"output {EVIL}"})
    [row] = json.loads(run(capsys, "report", "--by", "branch", "--json"))["rows"]
    assert row["key"] == BRANCH
    assert json.loads(run(capsys, "status", "--json"))["experiment"] == EXPERIMENT

    from mlflow import MlflowClient
    client = MlflowClient(traces.local_store_uri())
    stored = client.get_trace(found["trace_id"]).info
    assert (stored.request_preview, stored.tags["git.branch"]) == (PROMPT, BRANCH)
    assert client.get_experiment(found["experiment_id"]).name == EXPERIMENT


def test_our_own_colours_and_progress_bar_still_reach_a_terminal(traced, capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    out = run(capsys, "search")
    assert "\x1b[1m" in out and "\x1b[36m" in out and "\x1b[32mok\x1b[0m" in out
    shown(re.sub("\x1b\\[[0-9]+m", "", out), BRANCH)    # and nothing else gets through
    t = Transcript(session="sess-hand-2", cwd=str(tmp_path))
    t.prompt("again")
    t.text("done")
    assert traces.main(["import", t.write(str(tmp_path / "projects"))]) == 0
    err = capsys.readouterr().err
    assert err.startswith("\r[") and "1/1 sessions" in err


def test_errors_and_other_commands_pass_the_same_boundary(repo, tmp_path, capsys):
    path = tmp_path / f"{EVIL}.jsonl"
    path.write_text("not a transcript\n")
    assert traces.main(["import", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "holds no Claude Code transcript, Codex rollout" in err
    shown(err, str(path))
    # A real process, as a user runs it: `redact check` echoes its input, escaped.
    done = traces_cli("redact", "check", input=f"token {EVIL}\n".encode(), cwd=repo)
    assert done.returncode == 0
    shown(done.stdout.decode(), f"token {EVIL}")
