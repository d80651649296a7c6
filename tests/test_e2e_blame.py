"""`traces blame` end to end with the real Claude Code and Codex binaries (offline, against the
stand-in APIs): four turns write and edit one file, a human edits it between turns and commits,
a later turn rewrites a line an earlier one wrote, git renames the file and a turn edits it under
its new name, then the human adds a line not committed yet. Every line must be the right turn's,
or nobody's.

Both agents make the same file: Claude Code with Write and Edit (after a Read, as it requires),
Codex with apply_patch (the stand-in's model sends it as a shell command, which Codex applies).
"""

import json
import os
import re

import fakeapi
import pytest
from claude_harness import claude_bin, claude_env, run_claude
from codex_harness import codex_bin, codex_env, codex_home, run_codex
from fake_openai import FakeOpenAI
from fakeapi import FakeAnthropic, _text, _tool
from helpers import git, synced

import traces

pytestmark = pytest.mark.e2e

FIRST = ("def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n\n\n"
         "def mul(a, b):\n    return a * b\n")
# Each turn's changes as (old, new) text, applied by Claude Code's Edit or Codex's patch.
SECOND = [("def sub(a, b):\n    return a - b", 'def sub(a, b):\n    """a minus b"""\n    return a - b'),
          ("    return a * b  # checked", "    return a * b  # checked\n\n\ndef div(a, b):\n    return a / b")]
THIRD = [("    return a + b", "    return sum((a, b))")]
FOURTH = [("def div(a, b):\n    return a / b",
           'def div(a, b):\n    if b == 0:\n        raise ZeroDivisionError("b is 0")\n    return a / b')]
# The file at the end, each line with the turn that wrote it (1 to 4), H for the human's, and
# None for the blank lines between two turns' lines (no content of their own: nobody's).
EXPECTED = [
    ("# calc: small maths", "H"),
    ("def add(a, b):", 1),
    ("    return sum((a, b))", 3),          # the first turn's line, rewritten by the third
    ("", None),
    ("", None),
    ("def sub(a, b):", 1),                  # repeated by the second turn's edit around its change
    ('    """a minus b"""', 2),
    ("    return a - b", 1),
    ("", 1),
    ("", 1),
    ("def mul(a, b):", 1),
    ("    return a * b  # checked", "H"),   # the first turn's line, changed by the human
    ("", None),
    ("", None),
    ("def div(a, b):", 2),
    ("    if b == 0:", 4),                  # after the rename
    ('        raise ZeroDivisionError("b is 0")', 4),
    ("    return a / b", 2),
    ("# end of maths", "H"),                # not committed yet
]


def human_edit(repo):
    path = repo / "calc.py"
    text = path.read_text()
    assert text == FIRST, text
    path.write_text("# calc: small maths\n" + text.replace("    return a * b", "    return a * b  # checked"))
    git(repo, "add", "calc.py")
    git(repo, "commit", "-qm", "human: a header, a checked product")


def rename(repo):
    git(repo, "mv", "calc.py", "maths.py")
    git(repo, "commit", "-qam", "rename calc.py to maths.py")


def human_line(repo):
    with open(repo / "maths.py", "a") as f:
        f.write("# end of maths\n")


def check_blame(repo, capsys, agent):
    """Blame maths.py; count agent lines attributed to the right turn and human lines to none."""
    assert [text for text, _ in EXPECTED] == (repo / "maths.py").read_text().splitlines()
    client, found = synced(repo, 4)
    order = {t.info.trace_id: n for n, t in enumerate(found, 1)}     # oldest first: turn 1 to 4
    capsys.readouterr()
    assert traces.main(["blame", "maths.py", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    got = [(line["text"], order.get(line["trace_id"])) for line in body["lines"]]
    want = [(text, who if isinstance(who, int) else None) for text, who in EXPECTED]
    agent_lines = [i for i, (_, who) in enumerate(EXPECTED) if isinstance(who, int)]
    human_lines = [i for i, (_, who) in enumerate(EXPECTED) if who == "H"]
    right = sum(got[i] == want[i] for i in agent_lines)
    wrong_human = sum(got[i][1] is not None for i in human_lines)
    with capsys.disabled():         # for the record (pytest -s)
        print(f"\n[blame] {agent}: {right} of {len(agent_lines)} surviving agent-written lines attributed to the "
              f"right turn; {wrong_human} of {len(human_lines)} human lines attributed to a turn")
    assert got == want
    assert {t["agent"] for t in body["turns"]} == {agent}
    assert body["summary"]["attributed"] == len(agent_lines)
    capsys.readouterr()
    assert traces.main(["blame", "maths.py", "--summary"]) == 0
    assert f"maths.py: {len(EXPECTED)} line(s), {len(agent_lines)} written by traced turns" in capsys.readouterr().out


# --------------------------------------------------------------------------- Claude Code

def claude_turn(n, cwd):
    """The steps of turn n in `cwd`: Claude Code edits only a file it has read."""
    name = "calc.py" if n < 4 else "maths.py"
    path = f"{cwd}/{name}"
    if n == 1:
        return [[_tool("toolu_ct_blame_1_write", "Write", file_path=path, content=FIRST)], [_text("Written.")]]
    edits = {2: SECOND, 3: THIRD, 4: FOURTH}[n]
    return ([[_tool(f"toolu_ct_blame_{n}_read", "Read", file_path=path)]]
            + [[_tool(f"toolu_ct_blame_{n}_edit_{k}", "Edit", file_path=path, old_string=old, new_string=new)]
               for k, (old, new) in enumerate(edits)]
            + [[_text("Edited.")]])


@pytest.mark.skipif(claude_bin() is None, reason="Claude Code not installed: make claude")
def test_blame_with_claude_code(repo, isolated, capsys, monkeypatch):
    assert traces.main(["init", "--local", "--yes"]) == 0
    for n in range(1, 5):
        monkeypatch.setitem(fakeapi.SCENARIOS, f"blame{n}", lambda cwd, n=n: claude_turn(n, cwd))
    steps = {2: human_edit, 4: rename}
    with FakeAnthropic(cwd=os.path.realpath(repo)) as api:
        env = claude_env(isolated, api.url)
        for n in range(1, 5):
            if n in steps:
                steps[n](repo)
            code, _, out, err = run_claude(repo, f"CT-SCENARIO blame{n}: turn {n}", env)
            assert code == 0, err
            assert '"is_error":false' in out.replace(" ", ""), out
    human_line(repo)
    check_blame(repo, capsys, "claude")


# --------------------------------------------------------------------------- Codex

def patch(name, edits=None, new_file=None):
    """An apply_patch text: a new file, or an update with one hunk per (old, new) edit."""
    if new_file is not None:
        return f"*** Begin Patch\n*** Add File: {name}\n" + "".join(f"+{line}\n" for line in new_file.splitlines()) \
            + "*** End Patch\n"
    hunks = ""
    for old, new in edits:
        hunks += "@@\n" + "".join(f"-{line}\n" for line in old.split("\n")) + "".join(f"+{line}\n" for line in new.split("\n"))
    return f"*** Begin Patch\n*** Update File: {name}\n{hunks}*** End Patch\n"


@pytest.mark.skipif(codex_bin() is None, reason="Codex CLI not installed: make codex")
def test_blame_with_codex(repo, tmp_path, capsys, monkeypatch):
    patches = [patch("calc.py", new_file=FIRST), patch("calc.py", SECOND), patch("calc.py", THIRD),
               patch("maths.py", FOURTH)]
    steps = {2: human_edit, 4: rename}
    with FakeOpenAI() as api:
        home = codex_home(tmp_path / "codex-home", api.url)
        monkeypatch.setenv("CODEX_HOME", str(home))
        assert traces.main(["init", "--agent", "codex", "--local", "--yes"]) == 0
        env = codex_env(home, TRACES_HOME=os.environ["TRACES_HOME"])
        for n, text in enumerate(patches, 1):
            if n in steps:
                steps[n](repo)
            run = run_codex(repo, "PATCH: " + json.dumps(text), env)
            assert run.returncode == 0, run.stderr[-2000:]
            assert not re.search(r"(?i)patch.*(failed|rejected)", run.stdout), run.stdout[-2000:]
    human_line(repo)
    check_blame(repo, capsys, "codex")
