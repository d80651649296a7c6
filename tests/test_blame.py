"""`traces blame`: the turn that wrote each line of a file, from hand-made Claude Code sessions
imported into a real local store and a real git history (commit times set by the test).

The e2e tests with the real Claude Code and Codex binaries are in test_e2e_blame.py.
"""

import itertools
import json
import os
import subprocess

import pytest
from helpers import FIXTURES, git
from transcripts import START, Transcript

import traces

T0 = START.timestamp()


def commit(repo, message, at, *paths):
    """Commit (all tracked changes, and paths) as made `at` seconds after the sessions' start."""
    when = f"@{int(T0 + at)} +0000"
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    if paths:
        subprocess.run(["git", "add", *paths], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-qam", message], cwd=repo, check=True, env=env)


class Session(Transcript):
    """A Claude Code session whose turns start where the test says (seconds after START)."""

    def turn(self, at, prompt, *calls):
        self.clock = itertools.count(at)
        self.prompt(prompt)
        for name, tool_input, *error in calls:
            self.result(self.tool(name, tool_input), "done", is_error=bool(error))
        self.text("done")


def imported(capsys, tmp_path, *sessions):
    """The sessions traced into the experiment the repository's settings name."""
    settings = tmp_path / "widgets" / ".claude"
    settings.mkdir(exist_ok=True)
    (settings / "traces.json").write_text(json.dumps({"experiment": "acme/widgets"}))
    for session in sessions:
        assert traces.main(["import", session.write(str(tmp_path / "projects"))]) == 0
    capsys.readouterr()


def blame(capsys, *argv):
    code = traces.main(["blame", *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def owners(capsys, path):
    """{line text: the prompt of the turn blame names (None: no turn)}, and the JSON."""
    body = json.loads(blame(capsys, path, "--json"))
    prompts = {t["trace_id"]: t["prompt"] for t in body["turns"]}
    return [(line["text"], prompts.get(line["trace_id"])) for line in body["lines"]], body


FIRST = 'import sys\n\n\ndef greet(name):\n    return "hi " + name\n\n\ndef main():\n    print(greet(sys.argv[1]))\n'


def test_each_line_is_the_turn_that_wrote_it_and_no_human_line_is(repo, tmp_path, capsys):
    app = str(repo / "app.py")
    s = Session(cwd=str(repo))
    s.turn(0, "write the app", ("Write", {"file_path": app, "content": FIRST}))
    # The human adds a header and a comment, and commits.
    human = "# Copyright Acme\n" + FIRST.replace("def main():\n", "def main():\n    # argv is checked upstream\n")
    (repo / "app.py").write_text(human)
    commit(repo, "human edit", 50, "app.py")
    # A whole-file write: it repeats the human's lines, which it did not write.
    second = human + '\n\ndef bye():\n    return "bye"\n'
    s.turn(100, "add bye", ("Write", {"file_path": app, "content": second}))
    (repo / "app.py").write_text(second)
    commit(repo, "bye", 150)
    # A later turn rewrites a line of the first; a failed edit wrote nothing.
    third = second.replace('    return "hi " + name', '    return "hello, " + name')
    s.turn(200, "say hello", ("Edit", {"file_path": app, "old_string": '    return "hi " + name',
                                       "new_string": '    return "hello, " + name'}),
           ("Edit", {"file_path": app, "old_string": "zzz", "new_string": '    return "bye!"'}, "error"))
    (repo / "app.py").write_text(third)
    # Renamed by git, then edited under its new name; the human's last change is not committed.
    git(repo, "mv", "app.py", "hello.py")
    commit(repo, "rename", 250)
    fourth = third.replace("def main():", "def main(argv=None):")
    s.turn(300, "take argv", ("Edit", {"file_path": str(repo / "hello.py"), "old_string": "def main():",
                                       "new_string": "def main(argv=None):"}))
    (repo / "hello.py").write_text(fourth.replace('return "bye"', 'return "bye!"'))
    imported(capsys, tmp_path, s)

    lines, body = owners(capsys, "hello.py")
    assert lines == [
        ("# Copyright Acme", None),                     # the human's, though the second write repeats it
        ("import sys", "write the app"),
        ("", "write the app"),
        ("", "write the app"),
        ("def greet(name):", "write the app"),
        ('    return "hello, " + name', "say hello"),   # rewritten by a later turn
        ("", None),                                     # between two turns' lines: neither's
        ("", None),
        ("def main(argv=None):", "take argv"),          # after the rename
        ("    # argv is checked upstream", None),        # the human's
        ("    print(greet(sys.argv[1]))", "write the app"),
        ("", None),
        ("", None),
        ("def bye():", "add bye"),
        ('    return "bye!"', None),                    # changed by the human since (and a failed edit's text)
    ]
    assert body["file"] == "hello.py"
    assert body["summary"] == {"lines": 15, "attributed": 8, "unattributed": 7, "agents": {"claude": 8}}
    assert [(t["prompt"], t["lines"]) for t in body["turns"]] == [
        ("take argv", 1), ("say hello", 1), ("add bye", 1), ("write the app", 5)]
    assert all(t["agent"] == "claude" and t["session"] == s.session for t in body["turns"])


def test_text_output_range_and_summary(repo, tmp_path, capsys):
    s = Session(cwd=str(repo))
    s.turn(0, "write it\nwith a second line", ("Write", {"file_path": "src/a.py", "content": "x = 1\ny = 2\n"}))
    (repo / "src").mkdir()
    (repo / "src" / "a.py").write_text("x = 1\ny = 2\nz = 3\n")
    imported(capsys, tmp_path, s)
    [turn] = json.loads(blame(capsys, "src/a.py", "--json"))["turns"]
    out = blame(capsys, "src/a.py")
    rows = out.splitlines()
    assert len(rows) == 3
    assert rows[0].startswith(turn["trace_id"][:11]) and "claude" in rows[0] and "write it" in rows[0]
    assert rows[0].endswith("1 │ x = 1") and rows[2].endswith("3 │ z = 3")
    assert "write it" not in rows[1] and rows[1].startswith(turn["trace_id"][:11])   # the prompt once per run
    assert not rows[2].split("│")[0].strip("3 ")                                      # nobody's line
    ranged = blame(capsys, "src/a.py", "-L", "2,3").splitlines()
    assert ranged[1:] == rows[2:] and "write it" in ranged[0] and ranged[0].endswith("2 │ y = 2")
    # Typed from a subfolder, the path means the same file.
    os.chdir(repo / "src")
    summary = blame(capsys, "a.py", "--summary")
    assert "src/a.py: 3 line(s), 2 written by traced turns (67%), 1 by no traced turn" in summary
    assert "claude" in summary and "write it" in summary and "with a second line" not in summary
    body = json.loads(blame(capsys, "a.py", "--summary", "--json", "-L", "3,3"))
    assert "lines" not in body and body["summary"]["unattributed"] == 1 and body["turns"] == []


@pytest.mark.parametrize("argv, message", [
    (["missing.py"], "missing.py is not a file (it does not exist)"),
    (["src"], "src is not a file"),
    (["README.md", "-L", "2,2"], "README.md has 1 line(s): -L 2,2 is past its end"),
])
def test_bad_input_is_a_clear_error(repo, capsys, argv, message):
    (repo / "src").mkdir()
    assert traces.main(["blame", *argv]) == 1
    assert capsys.readouterr().err == f"Error: {message}\n"


def test_a_bad_range_is_refused_by_the_parser(repo, capsys):
    with pytest.raises(SystemExit) as exit:
        traces.main(["blame", "README.md", "-L", "3,1"])
    assert exit.value.code == 2 and "is not START,END" in capsys.readouterr().err


def test_a_file_outside_the_repository_is_refused(repo, tmp_path, capsys):
    (tmp_path / "elsewhere.py").write_text("x\n")
    assert traces.main(["blame", str(tmp_path / "elsewhere.py")]) == 1
    assert "is outside this repository" in capsys.readouterr().err


def test_what_each_agents_tools_write():
    """Every agent's file tools, in the shapes their recorded sessions hold."""
    patch = ("*** Begin Patch\n*** Add File: src/new.py\n+x = 1\n+\n*** Update File: /abs/old.py\n@@\n-a\n+b\n"
             "*** Update File: lib/m.py\n*** Move to: lib/n.py\n@@\n-kept\n-old\n+kept\n+moved\n same\n-x\n+x\n*** End Patch")
    cases = [
        ({"file_path": "a.py", "content": "x\ny\n"}, [("/w/a.py", ["x", "y", ""], [])]),                 # Claude Write
        ({"file_path": "/w/a.py", "old_string": "o", "new_string": "p\n  q\nr"}, [("/w/a.py", ["  q"], ["p", "r"])]),
        ({"file_path": "a.py", "edits": [{"old_string": "o", "new_string": "p"}]}, [("/w/a.py", [], ["p"])]),
        # An edit repeats the lines around its change: those it kept are not its own.
        ({"file_path": "a.py", "old_string": "a\n  b\nc\nd", "new_string": "a\n  B\n  b2\nc\nD"},
         [("/w/a.py", ["  B", "  b2"], ["D"])]),
        ({"path": "a.py", "file_text": "x\n"}, [("/w/a.py", ["x", ""], [])]),                           # Copilot create
        ({"path": "a.py", "old_str": "o", "new_str": " p "}, [("/w/a.py", [], ["p"])]),                 # Copilot edit
        ({"input": patch}, [("/w/src/new.py", ["x = 1", ""], []), ("/abs/old.py", ["b"], []),          # Codex
                            ("/w/lib/n.py", ["moved"], [])]),
        ({"cmd": "apply_patch <<'EOF'\n" + patch + "\nEOF\n", "workdir": "/v"},
         [("/v/src/new.py", ["x = 1", ""], []), ("/abs/old.py", ["b"], []), ("/v/lib/n.py", ["moved"], [])]),
        ({"file_path": "a.py"}, []),                                                                    # Read
    ]
    for inputs, expected in cases:
        assert traces.tool_writes(inputs, "/w") == expected, inputs
    # Gemini CLI's write_file, as its recorded session holds it, and its replace.
    text = next((FIXTURES / "gemini-0.61.0" / "resume").glob("session-*.jsonl")).read_text()
    call = text.index('"name":"write_file","args":') + len('"name":"write_file","args":')
    gemini = json.JSONDecoder().raw_decode(text, call)[0]
    assert traces.tool_writes(gemini, "/w") == [("/w/notes.txt", ["written by the stand-in", ""], [])]
    replace = {"file_path": "/w/notes.txt", "old_string": "a", "new_string": "b", "instruction": "x"}
    assert traces.tool_writes(replace, "/w") == [("/w/notes.txt", [], ["b"])]


@pytest.mark.parametrize("text, content", [
    ("", False), ("    }", False), ("});", False), ("else:", False), ("  end", False), ("} else {", False),
    ("x", True), ("return x", True), ("# a comment", True), ("  42,", True),
])
def test_lines_with_content_of_their_own(text, content):
    assert traces.has_content(text) is content


def test_a_turn_on_another_branch_counts_once_merged(repo, tmp_path, capsys):
    s = Session(cwd=str(repo))
    git(repo, "checkout", "-q", "-b", "feature")
    s.turn(0, "on a branch", ("Write", {"file_path": str(repo / "f.py"), "content": "def f():\n    return 1\n"}))
    (repo / "f.py").write_text("def f():\n    return 1\n")
    commit(repo, "feature", 10, "f.py")
    git(repo, "checkout", "-q", "main")
    (repo / "README.md").write_text("widgets, more\n")
    commit(repo, "main moves on", 20)
    env = {**os.environ, "GIT_COMMITTER_DATE": f"@{int(T0 + 30)} +0000", "GIT_AUTHOR_DATE": f"@{int(T0 + 30)} +0000"}
    subprocess.run(["git", "merge", "-q", "--no-edit", "feature"], cwd=repo, check=True, env=env)
    imported(capsys, tmp_path, s)
    lines, _ = owners(capsys, "f.py")
    assert lines == [("def f():", "on a branch"), ("    return 1", "on a branch")]


def test_a_line_restored_after_a_later_turn_changed_it_is_the_earlier_turns(repo, tmp_path, capsys):
    """The corner case: text made identical to an earlier turn's (an undo, a revert) is that turn's."""
    s = Session(cwd=str(repo))
    f = str(repo / "f.py")
    s.turn(0, "first", ("Write", {"file_path": f, "content": "value = 1\n"}))
    s.turn(100, "second", ("Edit", {"file_path": f, "old_string": "value = 1", "new_string": "value = 2"}))
    (repo / "f.py").write_text("value = 1\n")
    imported(capsys, tmp_path, s)
    assert owners(capsys, "f.py")[0] == [("value = 1", "first")]


def test_nothing_traced_for_the_file(repo, tmp_path, capsys):
    s = Session(cwd=str(repo))
    s.turn(0, "other", ("Write", {"file_path": str(repo / "other.py"), "content": "# README.md\nwidgets\n"}))
    imported(capsys, tmp_path, s)
    lines, body = owners(capsys, "README.md")
    assert lines == [("widgets", None)] and body["turns"] == []
    assert "README.md: 1 line(s), 0 written by traced turns (0%), 1 by no traced turn" in blame(
        capsys, "README.md", "--summary")


def test_a_file_of_the_same_name_elsewhere_in_the_repository_is_another_file(repo, tmp_path, capsys):
    s = Session(cwd=str(repo))
    s.turn(0, "two files", ("Write", {"file_path": str(repo / "tests" / "app.py"), "content": "x = 1\n"}),
           ("Write", {"file_path": str(repo / "app.py"), "content": "y = 2\n"}))
    (repo / "app.py").write_text("x = 1\ny = 2\n")
    imported(capsys, tmp_path, s)
    assert owners(capsys, "app.py")[0] == [("x = 1", None), ("y = 2", "two files")]


def test_text_from_the_file_and_the_trace_reaches_the_terminal_escaped(repo, tmp_path, capsys):
    evil = "\x1b]0;owned\x07\u202e"
    s = Session(cwd=str(repo))
    s.turn(0, "prompt " + evil, ("Write", {"file_path": str(repo / "e.py"), "content": f"x = '{evil}'\n"}))
    (repo / "e.py").write_text(f"x = '{evil}'\ny = '{evil}'\n")
    imported(capsys, tmp_path, s)
    for argv in ([], ["--summary"]):
        out = blame(capsys, "e.py", *argv)
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
        assert "\\x1b]0;owned\\x07\\u202e" in out
    lines, body = owners(capsys, "e.py")
    assert lines == [(f"x = '{evil}'", "prompt " + evil), (f"y = '{evil}'", None)]     # JSON: exact
