"""Budgets in Codex CLI: the UserPromptSubmit hook `traces budget set` (and `traces init --agent
codex` when a budget is set) adds to CODEX_HOME/hooks.json for this repository, trusted like our
Stop and SessionEnd hooks, and the shell one-liner it runs: the budget files of sessions whose
cwd is this repository or inside it, nothing for any other."""

import json
import os
import subprocess
import time

import pytest
import tomllib
from codex_harness import hook_key, trust_hash

import traces

USER_HOOK = {"type": "command", "command": "python3 /home/me/lint-prompt.py", "timeout": 10}
OTHER = ('model = "gpt-test"\n\n[hooks.state."{hooks}:user_prompt_submit:0:0"]\n'
         'trusted_hash = "{hash}"\n')


@pytest.fixture
def codex(repo, tmp_path, monkeypatch):
    """CODEX_HOME with a hook of the user's own before each prompt, trusted."""
    home = tmp_path / "codex-home"
    home.mkdir()
    (home / "hooks.json").write_text(json.dumps({"hooks": {"UserPromptSubmit": [{"hooks": [USER_HOOK]}]}}))
    (home / "config.toml").write_text(OTHER.format(hooks=home / "hooks.json",
                                                   hash=trust_hash("UserPromptSubmit", USER_HOOK)))
    monkeypatch.setenv("CODEX_HOME", str(home))
    return home


def ours(home):
    groups = json.loads((home / "hooks.json").read_text())["hooks"].get("UserPromptSubmit", [])
    return [h for g in groups for h in g["hooks"] if h != USER_HOOK]


def spend(project, session, usd):
    turn = {"id": f"{session}:{usd}", "cost": usd, "meta": {"git_branch": "main"}, "end": time.time()}
    traces.count_spend(session, str(project), turn)      # as the worker counts it


def run_hook(root, cwd, session="s1", prompt="hello"):
    """The hook as Codex 0.169 runs it: its command by a shell, its input on stdin (one line)."""
    payload = {"session_id": session, "turn_id": "t1", "transcript_path": None, "cwd": str(cwd),
               "hook_event_name": "UserPromptSubmit", "model": "gpt-test", "permission_mode": "default",
               "prompt": prompt}
    done = subprocess.run(["sh", "-c", traces.codex_budget_command(str(root))],
                          input=json.dumps(payload, separators=(",", ":")),        # as Codex writes it
                          capture_output=True, text=True, cwd=str(cwd) if os.path.isdir(cwd) else "/",
                          env={**os.environ, "c": "/inherited", "i": "x"})
    assert done.returncode == 0 and done.stderr == ""
    return json.loads(done.stdout) if done.stdout else None


# --- the wiring -----------------------------------------------------------------------------

def test_budget_set_adds_one_trusted_hook_and_off_and_disable_take_it_away(repo, codex, capsys):
    assert traces.main(["init", "--agent", "codex", "--local", "--yes"]) == 0
    wired, config = (codex / "hooks.json").read_text(), (codex / "config.toml").read_text()
    assert traces.main(["budget", "set", "--day", "5"]) == 0
    assert "this repository's Codex budget hook (UserPromptSubmit)" in capsys.readouterr().out
    hooks = json.loads((codex / "hooks.json").read_text())["hooks"]
    assert hooks["UserPromptSubmit"] == [{"hooks": [USER_HOOK]}, {"hooks": [
        {"type": "command", "command": traces.codex_budget_command(str(repo)), "timeout": 5}]}]
    assert {k: v for k, v in hooks.items() if k != "UserPromptSubmit"} == \
        {k: v for k, v in json.loads(wired)["hooks"].items() if k != "UserPromptSubmit"}
    state = tomllib.loads((codex / "config.toml").read_text())["hooks"]["state"]
    key = hook_key(codex / "hooks.json", "UserPromptSubmit", group=1)
    assert state[key] == {"trusted_hash": trust_hash("UserPromptSubmit", ours(codex)[0])}
    assert {k: v for k, v in state.items() if k != key} == tomllib.loads(config)["hooks"]["state"]
    files = (codex / "hooks.json").read_text(), (codex / "config.toml").read_text()
    assert traces.main(["budget", "set", "--week", "20"]) == 0            # nothing more to change
    assert ((codex / "hooks.json").read_text(), (codex / "config.toml").read_text()) == files
    capsys.readouterr()
    assert traces.main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["codex"] == {"hooks": 2, "trusted": True,
                                                           "hooks_file": str(codex / "hooks.json")}
    assert traces.main(["budget", "off"]) == 0
    assert json.loads((codex / "hooks.json").read_text()) == json.loads(wired)
    assert (codex / "config.toml").read_text() == config
    assert traces.main(["budget", "set", "--day", "5"]) == 0
    assert traces.main(["disable"]) == 0
    assert json.loads((codex / "hooks.json").read_text()) == {"hooks": {"UserPromptSubmit": [{"hooks": [USER_HOOK]}]}}
    assert (codex / "config.toml").read_text() == OTHER.format(hooks=codex / "hooks.json",
                                                               hash=trust_hash("UserPromptSubmit", USER_HOOK))


def test_init_adds_it_when_a_budget_is_already_set_and_nothing_where_codex_is_not_wired(repo, codex):
    before = (codex / "hooks.json").read_text(), (codex / "config.toml").read_text()
    assert traces.main(["budget", "set", "--day", "5"]) == 0
    assert ((codex / "hooks.json").read_text(), (codex / "config.toml").read_text()) == before
    assert traces.main(["init", "--agent", "codex", "--local", "--yes"]) == 0
    assert [h["command"] for h in ours(codex)] == [traces.codex_budget_command(str(repo))]
    state = tomllib.loads((codex / "config.toml").read_text())["hooks"]["state"]
    assert state[hook_key(codex / "hooks.json", "UserPromptSubmit", group=1)]["trusted_hash"] == \
        trust_hash("UserPromptSubmit", ours(codex)[0])


def test_untrusted_hooks_get_an_untrusted_budget_hook_and_init_yes_trusts_it(repo, codex, monkeypatch, capsys):
    monkeypatch.setattr(traces, "ask", lambda *a, **k: "n")
    assert traces.main(["init", "--agent", "codex", "--local"]) == 0
    config = (codex / "config.toml").read_text()
    assert traces.main(["budget", "set", "--day", "5"]) == 0
    assert "Codex skips the budget hook until it is trusted: run `traces init --agent codex --yes`" in \
        capsys.readouterr().out
    assert len(ours(codex)) == 1 and (codex / "config.toml").read_text() == config
    assert traces.main(["init", "--agent", "codex", "--local", "--yes"]) == 0
    state = tomllib.loads((codex / "config.toml").read_text())["hooks"]["state"]
    assert state[hook_key(codex / "hooks.json", "UserPromptSubmit", group=1)]["trusted_hash"] == \
        trust_hash("UserPromptSubmit", ours(codex)[0])


@pytest.mark.parametrize("broken", ["hooks.json", "config.toml"])
def test_a_codex_file_it_cannot_edit_is_refused_untouched_and_the_budget_not_saved(repo, codex, broken, capsys):
    assert traces.main(["init", "--agent", "codex", "--local", "--yes"]) == 0
    path = codex / broken
    path.write_text(path.read_text() + ("\n[" if broken == "config.toml" else "\n,"))
    before = {name: (codex / name).read_text() for name in ("hooks.json", "config.toml")}
    capsys.readouterr()
    assert traces.main(["budget", "set", "--day", "5"]) == 1
    assert capsys.readouterr().err.startswith("Error: ")
    assert {name: (codex / name).read_text() for name in before} == before
    assert "budget" not in json.loads((repo / ".claude" / "traces.json").read_text())


def test_a_broken_hooks_file_of_another_repository_does_not_stop_a_budget(repo, codex):
    (codex / "hooks.json").write_text("{not json")
    assert traces.main(["budget", "set", "--day", "5"]) == 0
    assert (codex / "hooks.json").read_text() == "{not json"


# --- the hook command -----------------------------------------------------------------------

def test_the_hook_acts_only_inside_the_repository_warns_then_blocks(repo, codex, tmp_path):
    assert traces.main(["budget", "set", "--day", "1", "--block"]) == 0
    (repo / "src").mkdir()
    sibling = tmp_path / "widgets2"
    sibling.mkdir()
    (tmp_path / "link").symlink_to(repo / "src")
    assert run_hook(repo, repo) is None                                   # nothing spent yet
    spend(repo, "s1", 0.9)
    warned = {"systemMessage": f"claudetracing: today has spent {traces.dollars(0.9)} of its $1.00 day budget (90 %)."}
    assert run_hook(repo, repo) == warned
    spend(repo, "s1", 0.3)
    refused = run_hook(repo, repo / "src")
    assert refused["decision"] == "block"
    assert refused["reason"].startswith(f"claudetracing: today has spent {traces.dollars(1.2)} of its $1.00 day budget (120 %)")
    assert run_hook(repo, tmp_path / "link") == refused                   # the repository through a link
    assert run_hook(repo, repo, session="a-new-session") == refused       # a day budget holds for it too
    for elsewhere in (sibling, tmp_path, tmp_path / "gone"):
        assert run_hook(repo, elsewhere) is None
    assert run_hook(repo, sibling, prompt=json.dumps({"cwd": str(repo)})) is None


def test_init_refuses_a_hooks_file_that_is_not_json_untouched(repo, codex, capsys):
    (codex / "hooks.json").write_text('{"hooks": {"Stop": [{"hooks": [{"command": "mine"}]}]},')
    assert traces.main(["init", "--agent", "codex", "--local", "--yes"]) == 1
    assert "hooks.json is not valid JSON: fix or move it" in capsys.readouterr().err
    assert (codex / "hooks.json").read_text() == '{"hooks": {"Stop": [{"hooks": [{"command": "mine"}]}]},'


def test_doctor_says_when_codex_would_skip_the_budget_hook(repo, codex, monkeypatch):
    from types import SimpleNamespace
    checkup = SimpleNamespace(root=str(repo))
    monkeypatch.setattr(traces, "ask", lambda *a, **k: "n")
    assert traces.main(["init", "--agent", "codex", "--local"]) == 0
    assert traces.main(["budget", "set", "--day", "5"]) == 0
    state = tomllib.loads((codex / "config.toml").read_text())["hooks"]["state"]
    trusted = "".join(f'[hooks.state."{key}"]\ntrusted_hash = "{value["trusted_hash"]}"\n' for key, value in state.items())
    traced = traces.codex_ours(json.loads((codex / "hooks.json").read_text()), str(repo))
    trusted += "".join(f'[hooks.state."{key}"]\ntrusted_hash = "{traces.codex_trust_hash(*pair)}"\n'
                       for key, pair in traced.items())
    (codex / "config.toml").write_text(trusted)                       # Stop and SessionEnd only
    ok, line, fix = traces.check_codex(checkup)
    assert not ok and line.startswith("Codex skips the budget hook (UserPromptSubmit)") and fix == traces.CODEX_TRUST_FIX
    assert traces.main(["init", "--agent", "codex", "--local", "--yes"]) == 0
    assert traces.check_codex(checkup)[0] is True
    hooks = json.loads((codex / "hooks.json").read_text())
    del hooks["hooks"]["UserPromptSubmit"][1]
    (codex / "hooks.json").write_text(json.dumps(hooks))
    assert "has no budget hook (UserPromptSubmit) for this repository" in traces.check_codex(checkup)[1]
