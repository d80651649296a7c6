"""End to end with all four real agents in one repository (issue 22): `traces init --agent
claude,codex,gemini,copilot` wires a repository whose folder name has a space; Claude Code,
Codex CLI, Gemini CLI and Copilot CLI (each offline, against its stand-in on 127.0.0.1) then
run there at the same time, two turns each, one shell call a turn, the second turn going on in
the first one's session. The folder is trusted for Gemini and Copilot, so Copilot also runs
Claude Code's hooks of .claude/settings.json. On the local store: one trace per turn per agent,
each under its agent's root span, and `traces report --by agent` rows equal to each agent's
own ledger."""

import json
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from claude_harness import claude_bin, claude_env, run_claude, transcript_path
from codex_harness import codex_bin, codex_env, codex_home, find_rollout, last_token_count, make_repo, run_codex
from copilot_harness import COPILOT, copilots_ledger, run_copilot, session_files
from fake_gemini import FakeGemini
from fake_openai import FakeOpenAI
from fake_openai_chat import FakeChat
from fakeapi import FakeAnthropic
from gemini_harness import gemini_bin, gemini_env, gemini_home, ledger_total, run_gemini
from helpers import ledger_totals, synced

import traces

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(
    None in (claude_bin(), codex_bin(), gemini_bin()) or not COPILOT.exists(),
    reason="needs all four agents: make claude codex gemini copilot")]

PROMPTS = {
    "claude": ["CT-SCENARIO shell: Claude Code, look around", "CT-SCENARIO shell2: Claude Code, read it"],
    "codex": ["Codex, look around.\nRUN: git status --short", "Codex, read it.\nRUN: cat README.md"],
    "gemini": ["Gemini, look around.\nRUN: git status --short", "Gemini, read it.\nRUN: cat README.md"],
    "copilot": ["Copilot, look around.\nRUN: git status --short", "Copilot, count.\nRUN: wc -l README.md"],
}
ROOT_SPANS = {"claude": "claude_code_conversation", "codex": "codex_conversation",
              "gemini": "gemini_cli_conversation", "copilot": "copilot_cli_conversation"}
SHELL_TOOLS = {"claude": "tool_Bash", "codex": "tool_exec_command", "gemini": "tool_run_shell_command",
               "copilot": "tool_bash"}
TOKENS = ("input", "output", "cache_read", "cache_creation", "total")


def with_total(ledger):
    return {**ledger, "total": sum(ledger[k] for k in TOKENS if k != "total")}


def claude_turns(home, repo, url):
    """Two `claude -p`, the second with --resume: Claude Code's ledger (cost-state) in our keys."""
    env = claude_env(home, url)
    code, session, out, err = run_claude(repo, PROMPTS["claude"][0], env)
    assert code == 0, err
    code, resumed, out, err = run_claude(repo, PROMPTS["claude"][1], env, resume=session)
    assert code == 0 and resumed == session, err
    return with_total(ledger_totals([transcript_path(home, repo, session)]))


def codex_turns(home, repo, hooks_env):
    """`codex exec`, then `codex exec resume --last`: the rollout's last token_count in our keys."""
    env = codex_env(home / ".codex", HOME=str(home), **hooks_env)
    first = run_codex(repo, PROMPTS["codex"][0], env)
    again = run_codex(repo, PROMPTS["codex"][1], env, resume="last")
    assert first.returncode == again.returncode == 0, first.stderr[-2000:] + again.stderr[-2000:]
    raw = last_token_count(find_rollout(home / ".codex", first.session_id))
    usage = traces.codex_usage(raw)
    assert usage["total"] == raw["total_tokens"]            # the split adds up to Codex's own total
    return {k: usage[k] for k in TOKENS}


def gemini_turns(home, repo, url, hooks_env):
    """`gemini -p`, then `gemini -p --resume latest`: their `-o json` stats summed, in our keys."""
    env = gemini_env(home, url, **hooks_env)
    runs = [run_gemini(repo, prompt, env, resume=n > 0) for n, prompt in enumerate(PROMPTS["gemini"])]
    assert [r.returncode for r in runs] == [0, 0], runs[-1].stderr[-2000:]
    assert runs[0].session_id == runs[1].session_id
    ledger = ledger_total(runs)
    return {"input": ledger["input"] + ledger["tool"], "output": ledger["candidates"] + ledger["thoughts"],
            "cache_read": ledger["cached"], "cache_creation": 0, "total": ledger["total"]}


def copilot_turns(home, repo, url, hooks_env):
    """`copilot -p`, then `copilot -p --continue`, in a folder trusted for the run (so Copilot
    runs .claude/settings.json's hooks too): session.shutdown's modelMetrics in our keys."""
    env = {**hooks_env, "COPILOT_ALLOW_ALL": "true"}
    for flags, prompt in zip(([], ["--continue"]), PROMPTS["copilot"], strict=True):
        run_copilot(home, repo, url, prompt, *flags, env=env)
    (events,) = session_files(home)
    return with_total(copilots_ledger(events))


def test_four_agents_in_one_repository_one_trace_per_turn_each(tmp_path, monkeypatch, isolated, capsys):
    repo = make_repo(tmp_path / "my widgets")
    monkeypatch.chdir(repo)
    home = isolated
    monkeypatch.setenv("CODEX_HOME", str(home / ".codex"))
    gemini_home(home)
    hooks_env = {key: os.environ[key] for key in ("TRACES_HOME", "CLAUDETRACING_WORKER_IDLE")}
    with FakeAnthropic(cwd=os.path.realpath(repo)) as claude_api, FakeOpenAI() as codex_api, \
            FakeGemini() as gemini_api, FakeChat() as chat_api:
        codex_home(home / ".codex", codex_api.url)
        assert traces.main(["init", "--agent", "claude,codex,gemini,copilot", "--local", "--yes"]) == 0
        # A witness that Copilot runs Claude Code's hooks in this folder (COPILOT_CLI is Copilot's).
        witness = tmp_path / "copilot-ran-claude-hooks"
        settings = json.loads((repo / ".claude" / "settings.json").read_text())
        settings["hooks"]["Stop"].append({"hooks": [{"type": "command", "command":
                                                     f"[ \"$COPILOT_CLI\" = 1 ] && touch '{witness}'; true"}]})
        (repo / ".claude" / "settings.json").write_text(json.dumps(settings))
        # The four at once, as on a team that uses them side by side: one worker takes turns of
        # four agents as they come (and the test takes the time of the slowest agent alone).
        with ThreadPoolExecutor(len(PROMPTS)) as pool:
            running = {"claude": pool.submit(claude_turns, home, repo, claude_api.url),
                       "codex": pool.submit(codex_turns, home, repo, hooks_env),
                       "gemini": pool.submit(gemini_turns, home, repo, gemini_api.url, hooks_env),
                       "copilot": pool.submit(copilot_turns, home, repo, chat_api.url, hooks_env)}
            theirs = {agent: done.result() for agent, done in running.items()}
    client, found = synced(repo, 8)
    assert witness.exists()

    # One trace per turn per agent: counted by its agent tag and its prompt.
    turns = Counter((t.info.tags.get("agent"), t.info.request_preview) for t in found)
    assert turns == Counter((agent, prompt) for agent, prompts in PROMPTS.items() for prompt in prompts)
    for trace in found:
        agent = trace.info.tags["agent"]
        spans = client.get_trace(trace.info.trace_id).data.spans
        assert [s.name for s in spans if s.parent_id is None] == [ROOT_SPANS[agent]]
        assert [s.name for s in spans if s.name.startswith("tool_")] == [SHELL_TOOLS[agent]]
    sessions = {agent: {t.info.trace_metadata["mlflow.trace.session"] for t in found if t.info.tags["agent"] == agent}
                for agent in PROMPTS}
    assert all(len(s) == 1 for s in sessions.values()), sessions

    # `traces report --by agent`: each agent's row equals that agent's own ledger.
    capsys.readouterr()
    assert traces.main(["report", "--by", "agent", "--json"]) == 0
    rows = {row["key"]: row for row in json.loads(capsys.readouterr().out)["rows"]}
    ours = {agent: rows[agent]["tokens"] for agent in rows}
    with capsys.disabled():                    # the table, for the record: in the test log, -s or not
        print("\n[ledger] four agents in one repository, two turns each (report --by agent vs each agent's own)")
        print(f"{'agent':<9}{'tokens':<16}{'ours (report)':>15}{'theirs (ledger)':>17}")
        for agent in PROMPTS:
            for kind in TOKENS:
                print(f"{agent:<9}{kind:<16}{ours.get(agent, {}).get(kind, '-'):>15}{theirs[agent][kind]:>17}")
    assert {agent: row["turns"] for agent, row in rows.items()} == dict.fromkeys(PROMPTS, 2)
    assert ours == theirs
    # Claude Code's hooks, run by Copilot, left Copilot's turns to our Copilot hook: a job of
    # theirs would not add a trace (the worker refuses its file), only this line in the log.
    with open(os.path.join(os.environ["TRACES_HOME"], "traces.log")) as f:
        assert "refused a transcript outside" not in f.read()
