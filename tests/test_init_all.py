"""One init for every agent (issue 22): `--agent all` wires the agents whose program is on PATH,
interactive init asks which to wire, status has a line per agent, and doctor sends a test turn
through each wired agent's own hook command, in that agent's own session format, into a real
local store, then takes it away again. Only the PATH lookup is faked: nothing runs the fake
programs."""

import io
import json
import os
import shutil

import pytest

import traces

TOOLS = ("git", "sh", "bash")           # what init, the hooks and doctor run


@pytest.fixture
def on_path(tmp_path, monkeypatch):
    """PATH holding the tools traces needs and stand-ins named like the agents given (never run)."""
    def put(*agents):
        folder = tmp_path / "bin"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        for tool in TOOLS:
            (folder / tool).symlink_to(shutil.which(tool))
        for agent in agents:
            (folder / agent).write_text("#!/bin/sh\nexit 1\n")
            (folder / agent).chmod(0o755)
        monkeypatch.setenv("PATH", str(folder))
    return put


@pytest.fixture
def homes(repo, tmp_path, monkeypatch):
    """The agents' own folders, empty: CODEX_HOME, ~/.gemini (this folder trusted), ~/.copilot."""
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex-home"))
    gemini = tmp_path / "home" / ".gemini"
    gemini.mkdir()
    (gemini / "trustedFolders.json").write_text(json.dumps({str(repo): "TRUST_FOLDER"}))
    return {"codex": tmp_path / "codex-home", "gemini": gemini, "copilot": tmp_path / "home" / ".copilot",
            "claude": tmp_path / "home" / ".claude"}


def wired(repo, homes):
    """The agents whose hooks are in their files for this repository."""
    found = {"claude": (repo / ".claude" / "settings.json").exists(), "codex": (homes["codex"] / "hooks.json").exists(),
             "gemini": (repo / ".gemini" / "settings.json").exists(),
             "copilot": any((homes["copilot"] / "hooks").glob("claudetracing-*.json"))}
    return sorted(name for name, there in found.items() if there)


def test_agent_all_wires_the_agents_on_path_and_says_which_it_skipped(repo, homes, on_path, capsys):
    on_path("claude", "codex", "gemini")
    assert traces.main(["init", "--agent", "all", "--local", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "Agents on PATH: claude, codex, gemini; skipped (not on PATH): copilot" in out
    assert wired(repo, homes) == ["claude", "codex", "gemini"]
    assert "restart Claude Code, Codex and Gemini CLI in this repository" in out


def test_agent_all_with_no_agent_on_path_refuses_and_changes_nothing(repo, homes, on_path, capsys):
    on_path()
    assert traces.main(["init", "--agent", "all", "--local", "--yes"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: --agent all: none of claude, codex, gemini, copilot is on PATH")
    assert wired(repo, homes) == [] and not (repo / ".claude").exists()


def test_yes_without_agent_wires_claude_alone_as_before(repo, homes, on_path):
    on_path("codex", "gemini", "copilot")
    assert traces.main(["init", "--local", "--yes"]) == 0
    assert wired(repo, homes) == ["claude"]


def test_interactive_init_asks_which_agents_defaulting_to_those_on_path(repo, homes, on_path, monkeypatch, capsys):
    on_path("codex", "copilot")
    # Enter: the agents found; 1: the local store; Enter: the experiment's name; y: trust Codex's hooks.
    monkeypatch.setattr("sys.stdin", io.StringIO("\n1\n\ny\n"))
    assert traces.main(["init"]) == 0
    assert "Which agents should traces wire (claude, codex, gemini, copilot, or all; comma-separated) " \
        "[codex,copilot]:" in capsys.readouterr().out
    assert wired(repo, homes) == ["codex", "copilot"]
    monkeypatch.setattr("sys.stdin", io.StringIO("claude, gemini\n1\n\n"))
    assert traces.main(["init"]) == 0
    assert wired(repo, homes) == ["claude", "codex", "copilot", "gemini"]


def test_interactive_init_defaults_to_claude_when_no_agent_is_on_path(repo, homes, on_path, monkeypatch, capsys):
    on_path()
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert traces.main(["init"]) == 0
    assert "[claude]:" in capsys.readouterr().out
    assert wired(repo, homes) == ["claude"]


def test_interactive_init_refuses_an_unknown_agent_before_writing(repo, homes, on_path, monkeypatch, capsys):
    on_path("claude")
    monkeypatch.setattr("sys.stdin", io.StringIO("claude,cursor\n1\n\n"))
    assert traces.main(["init"]) == 1
    assert "Error: unknown agent cursor; choose from claude, codex, gemini, copilot or all" in capsys.readouterr().err
    assert wired(repo, homes) == [] and not (repo / ".claude").exists()


def status_rows(capsys):
    capsys.readouterr()
    assert traces.main(["status"]) == 0
    return {row.split()[0]: row.split(None, 1)[1] for row in capsys.readouterr().out.splitlines()[1:]
            if not row.lstrip().startswith("Problem")}


def test_status_has_a_line_per_agent(repo, homes, on_path, capsys):
    on_path("claude", "codex", "gemini")
    assert traces.main(["init", "--agent", "claude,codex", "--local", "--yes"]) == 0
    rows = status_rows(capsys)
    assert rows["claude"] == ".claude/settings.json (Stop, SubagentStop, SessionEnd)"
    assert rows["codex"] == f"{homes['codex'] / 'hooks.json'} (trusted)"
    assert rows["gemini"] == "not wired (gemini is on PATH: `traces init --agent gemini`)"
    assert rows["copilot"] == "not wired"
    capsys.readouterr()
    assert traces.main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["agents"] == {
        "claude": {"wired": True, "hooks_file": ".claude/settings.json", "on_path": True},
        "codex": {"wired": True, "hooks_file": str(homes["codex"] / "hooks.json"), "on_path": True},
        "gemini": {"wired": False, "hooks_file": None, "on_path": True},
        "copilot": {"wired": False, "hooks_file": None, "on_path": False}}


# -- doctor: a round trip per agent ------------------------------------------------------------------


def doctor(capsys):
    capsys.readouterr()
    rc = traces.main(["doctor"])
    out = capsys.readouterr().out
    return rc, {" ".join(row.split()[1:3]): row for row in out.splitlines() if row.split()[1:2] == ["roundtrip"]}, out


def left_behind(homes):
    """What a test turn could leave: traces in the store, session files, jobs, checkpoints."""
    import mlflow
    client = mlflow.MlflowClient("sqlite:///" + os.path.join(os.environ["TRACES_HOME"], "mlflow.db"))
    found = [t.info.trace_metadata.get(traces.META_SESSION) for e in client.search_experiments()
             for t in client.search_traces(locations=[e.experiment_id])]
    folders = [homes["claude"] / "projects", homes["codex"] / "sessions", homes["gemini"] / "tmp",
               homes["copilot"] / "session-state"]
    files = [str(p) for folder in folders if folder.exists() for p in folder.rglob("*")]
    state = os.path.join(os.environ["TRACES_HOME"], "state")
    return found + files + traces.pending_jobs() + [n for n in os.listdir(state) if n.startswith("doctor-")]


def test_doctor_sends_a_test_turn_through_each_wired_agent_and_removes_it(repo, homes, capsys):
    assert traces.main(["init", "--agent", "claude,codex,gemini,copilot", "--local", "--yes"]) == 0
    rc, lines, out = doctor(capsys)
    assert rc == 0, out
    assert list(lines) == ["roundtrip claude", "roundtrip codex", "roundtrip gemini", "roundtrip copilot"]
    for name, label in (("claude", "Claude Code"), ("codex", "Codex"), ("gemini", "Gemini CLI"), ("copilot", "Copilot CLI")):
        assert lines[f"roundtrip {name}"].startswith("ok") and f"went {label}'s hook → spool → worker → backend" in \
            lines[f"roundtrip {name}"], out
    # Each went through the worker as its own agent's session, and nothing of them is left.
    log = open(os.path.join(os.environ["TRACES_HOME"], "traces.log")).read()
    assert log.count("uploaded 1 turn(s)") == 4 and "ERROR" not in log, log
    assert left_behind(homes) == []


def test_a_broken_hook_command_fails_the_round_trip_of_its_agent_alone(repo, homes, capsys, monkeypatch):
    """Copilot's hook file edited to run a command that does nothing: the copilot line fails
    and says so; the other agents' turns still arrive."""
    monkeypatch.setattr(traces, "DOCTOR_WAIT_SECONDS", 30)
    assert traces.main(["init", "--agent", "claude,gemini,copilot", "--local", "--yes"]) == 0
    [ours] = (homes["copilot"] / "hooks").glob("claudetracing-*.json")
    data = json.loads(ours.read_text())
    for (handler,) in data["hooks"].values():
        head, _, tail = handler["bash"].partition("; ")
        handler["bash"] = f"{head}; exit 0; {tail}"
    ours.write_text(json.dumps(data))
    rc, lines, out = doctor(capsys)
    assert rc == 1, out
    assert [row.split()[0] for row in lines.values()] == ["ok", "ok", "FAIL"], out
    assert "Copilot CLI's hook command never reached the worker" in lines["roundtrip copilot"]
    assert "fix: traces init --agent copilot" in lines["roundtrip copilot"]
    assert left_behind(homes) == []


def test_an_agent_whose_own_check_fails_has_its_round_trip_skipped(repo, homes, capsys):
    """Gemini CLI runs no hook in a folder it does not trust: its test turn would prove nothing."""
    (homes["gemini"] / "trustedFolders.json").unlink()
    assert traces.main(["init", "--agent", "claude,gemini", "--local", "--yes"]) == 0
    rc, lines, out = doctor(capsys)
    assert rc == 1, out
    assert lines["roundtrip claude"].startswith("ok"), out
    assert lines["roundtrip gemini"] == "skip  roundtrip gemini  not run: fix the gemini line above first"
    assert left_behind(homes) == []
