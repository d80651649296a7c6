"""Spend and budgets: the summary the worker keeps, `traces statusline`, `traces budget` and the
UserPromptSubmit hook that warns and refuses prompts (a shell one-liner: no Python)."""

import json
import os
import stat
import subprocess
import sys
import time

import pytest
import transcripts
from helpers import read_config, read_settings, traces_cli
from transcripts import Transcript

import traces


def store_uri():
    return "sqlite:///" + os.path.join(os.environ["TRACES_HOME"], "mlflow.db")


def projects():
    return os.path.join(os.environ["HOME"], ".claude", "projects")


@pytest.fixture(autouse=True)
def turns_of_today(monkeypatch):
    from datetime import datetime, timezone
    monkeypatch.setattr(transcripts, "START", datetime.now(timezone.utc))


def session_file(session, turns=2):
    t = Transcript(session=session, cwd="/work/project")
    for i in range(turns):
        t.prompt(f"task {i}")
        t.text(f"done {i}", usage={"input_tokens": 1000, "output_tokens": 1000, "cache_read_input_tokens": 0,
                                   "cache_creation_input_tokens": 0})
    return t.write(projects())


TURN_USD = traces.cost_of("claude-sonnet-4-5", {**traces.empty_usage(), "input": 1000, "output": 1000})


def spool_stop(path, session, project, uri=None):
    traces.write_job({"hook_event_name": "Stop", "session_id": session, "transcript_path": str(path),
                      "cwd": str(project), "project_dir": str(project), "size": os.path.getsize(path),
                      "env": {"MLFLOW_TRACKING_URI": uri or store_uri(), "MLFLOW_EXPERIMENT_NAME": "acme/widgets"},
                      "time": time.time()})


def run_hook(project, session):
    """The UserPromptSubmit hook command, run the way Claude Code runs it."""
    payload = {"session_id": session, "transcript_path": "/x.jsonl", "cwd": str(project),
               "hook_event_name": "UserPromptSubmit", "prompt": 'say "session_id": "evil/../../x"'}
    done = subprocess.run(["sh", "-c", traces.BUDGET_COMMAND], input=json.dumps(payload), capture_output=True,
                          text=True, env={**os.environ, "CLAUDE_PROJECT_DIR": str(project), "v": "inherited", "f": "/etc/passwd"})
    assert done.returncode == 0 and done.stderr == ""
    return json.loads(done.stdout) if done.stdout else None


def statusline(payload):
    done = traces_cli("statusline", input=json.dumps(payload))
    assert done.returncode == 0 and done.stderr == ""
    return done.stdout


# --- the summary ----------------------------------------------------------------------------

def test_the_worker_counts_each_turn_once_by_session_day_branch_and_agent(repo):
    path = session_file("sess-b-1")
    spool_stop(path, "sess-b-1", repo)
    assert traces.main(["sync", "--wait", "60"]) == 0
    spool_stop(path, "sess-b-1", repo)              # the same turns again: counted once
    assert traces.main(["sync", "--wait", "60"]) == 0
    summary = json.load(open(traces.summary_path()))
    assert stat.S_IMODE(os.stat(traces.summary_path()).st_mode) == 0o600
    day, week = traces.day_keys(time.time())
    spent = summary["projects"][str(repo)]
    assert spent["days"][day] == pytest.approx(2 * TURN_USD) and spent["weeks"][week] == pytest.approx(2 * TURN_USD)
    assert spent["branches"]["main"][0] == pytest.approx(2 * TURN_USD)
    assert spent["agents"] == {"claude": pytest.approx(2 * TURN_USD)}
    assert len(summary["sessions"]["sess-b-1"]["turns"]) == 2


def test_a_turn_waiting_for_a_backend_that_is_down_is_spent_and_shown_waiting(repo, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    path = session_file("sess-b-2", turns=1)
    spool_stop(path, "sess-b-2", repo, uri="http://127.0.0.1:9")
    assert traces.main(["sync", "--wait", "2"]) == 1
    summary = traces.read_summary()
    assert sum(summary["sessions"]["sess-b-2"]["turns"].values()) == pytest.approx(TURN_USD)
    line = statusline({"session_id": "sess-b-2", "workspace": {"project_dir": str(repo)}})
    assert line.startswith("traces ⏳ 1 waiting: cannot ") and f"session {traces.dollars(TURN_USD)}" in line


def test_the_summary_stays_small():
    summary, now = traces.read_summary(), time.time()
    for i in range(400):
        turn = {"id": f"s{i}:u", "cost": 0.01, "meta": {"git_branch": f"b{i}"}, "end": now - i * 86400 / 10}
        traces.add_spend(summary, f"s{i}", "/p", turn, now - i * 86400 / 10)
    traces.prune_summary(summary, now)
    spent = summary["projects"]["/p"]
    assert len(summary["sessions"]) <= traces.SUMMARY_SESSIONS and len(spent["branches"]) <= traces.SUMMARY_BRANCHES
    assert len(spent["days"]) <= traces.SUMMARY_DAYS + 1 and len(spent["weeks"]) <= traces.SUMMARY_WEEKS
    quiet = summary["sessions"]["s20"]          # two days old: its total, not each turn
    assert quiet["turns"] == {} and quiet["usd"] == pytest.approx(0.01) and quiet["count"] == 1
    assert traces.spend_of(summary, "/p", "s20", "b20", now)["session"] == pytest.approx(0.01)


def spend(project, session, usd, branch="main"):
    turn = {"id": f"{session}:{usd}", "cost": usd, "meta": {"git_branch": branch}, "end": time.time()}
    traces.count_spend(session, str(project), turn)      # as the worker counts it


def test_a_malformed_summary_never_stops_tracing_nor_the_status_line(repo):
    traces.private_dir(os.environ["TRACES_HOME"], "state")
    with open(traces.summary_path(), "w") as f:
        json.dump({"projects": {str(repo): 1}, "sessions": {"s": 2}}, f)
    assert statusline({"session_id": "s", "workspace": {"project_dir": str(repo)}}).startswith("traces: the spend summary")
    turn = {"id": "s:1", "cost": 0.5, "meta": {"git_branch": "main"}, "end": time.time()}
    traces.count_spend("s", str(repo), turn)
    assert traces.read_summary()["sessions"]["s"]["turns"] == {"1": 0.5}


# --- the status line ------------------------------------------------------------------------

def test_statusline_shows_turns_and_spend_quietly_without_a_summary(repo):
    assert statusline({}) == "traces ✓ 0 turns · session $0.0000 · today $0.0000\n"
    assert traces_cli("statusline", input="not json").stdout.startswith("traces ✓ 0 turns")
    spend(repo, "s", 1.5)
    line = statusline({"session_id": "s", "cwd": str(repo), "workspace": {"project_dir": str(repo)}})
    assert line == "traces ✓ 1 turn · session $1.50 · today $1.50 · main $1.50\n"


def test_statusline_shows_a_problem_the_worker_recorded(repo):
    traces.write_job({"hook_event_name": "Stop", "session_id": "s", "project_dir": "/elsewhere", "time": 0})
    traces.record_problem("the worker's Python has no mlflow", "traces init")
    line = statusline({"workspace": {"project_dir": str(repo)}})
    assert line.startswith("traces ⏳ 1 waiting: the worker's Python has no mlflow · session $0.0000")


def test_statusline_shows_a_branch_name_terminal_safe(repo):
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/x\x1b]0;pwned\x07y\n")
    line = statusline({"workspace": {"project_dir": str(repo)}})
    assert "\x1b" not in line and "\x07" not in line and "x\\x1b]0;pwned\\x07y $0.0000" in line


# --- budgets and their verdicts -------------------------------------------------------------

def test_budget_warns_then_blocks_then_lifts_when_raised(repo, capsys):
    assert traces.main(["budget", "set", "--session", "1", "--warn-at", "50", "--block"]) == 0
    assert read_config(repo)["budget"] == {"session": 1.0, "warn_at": 50.0, "block": True}
    assert [g["hooks"][0]["command"] for g in read_settings(repo)["hooks"]["UserPromptSubmit"]] == [
        traces.BUDGET_COMMAND]
    assert run_hook(repo, "s1") is None
    spend(repo, "s1", 0.6)
    warned = run_hook(repo, "s1")
    assert warned == {"systemMessage": "claudetracing: this session has spent $0.6000 of its $1.00 session budget (60 %)."}
    assert run_hook(repo, "s2") is None            # another session: its own spend
    spend(repo, "s1", 0.5)
    blocked = run_hook(repo, "s1")
    assert blocked["decision"] == "block" and "$1.10 of its $1.00 session budget (110 %)" in blocked["reason"]
    assert "traces budget set --session 2.00" in blocked["reason"]
    capsys.readouterr()
    assert traces.main(["budget", "set", "--session", "5"]) == 0
    assert run_hook(repo, "s1") is None
    assert "this session  $1.10 of $5.00 (22 %)" in capsys.readouterr().out
    assert traces.main(["budget", "off"]) == 0
    assert "budget" not in read_config(repo) and "UserPromptSubmit" not in read_settings(repo).get("hooks", {})


def test_a_day_budget_blocks_every_session_and_lifts_tomorrow(repo):
    assert traces.main(["budget", "set", "--day", "1", "--block"]) == 0
    spend(repo, "s1", 1.2)
    assert run_hook(repo, "a-new-session")["decision"] == "block"
    tomorrow = traces.day_keys(time.time() + 86400)[0]
    folder = os.path.join(os.environ["TRACES_HOME"], traces.BUDGET_DIR)
    assert not [n for _, _, names in os.walk(folder) for n in names if tomorrow in n]
    assert [n for _, _, names in os.walk(folder) for n in names if traces.day_keys(time.time())[0] in n]


def test_a_local_budget_overrides_the_teams(repo):
    assert traces.main(["budget", "set", "--day", "1", "--block"]) == 0
    assert traces.main(["budget", "set", "--local", "--day", "10"]) == 0
    assert read_config(repo, local=True)["budget"] == {"day": 10.0}
    assert "UserPromptSubmit" in read_settings(repo, local=True)["hooks"]
    spend(repo, "s1", 1.2)
    assert run_hook(repo, "s1") is None


def test_a_malformed_budget_is_refused_and_left_as_it_was(repo, capsys):
    (repo / ".claude").mkdir()
    text = '{"budget": {"day": "lots"}}'
    (repo / ".claude" / "traces.json").write_text(text)
    assert traces.main(["budget", "set", "--day", "5"]) == 1
    assert '"budget.day" must be a positive number' in capsys.readouterr().err
    assert (repo / ".claude" / "traces.json").read_text() == text
    assert traces.main(["budget", "set"]) == 1
    assert traces.main(["budget", "--day", "3"]) == 1


def test_disable_takes_the_budget_hook_away(repo):
    assert traces.main(["init", "--local", "--yes"]) == 0
    assert traces.main(["budget", "set", "--week", "30"]) == 0
    assert traces.main(["disable"]) == 0
    assert not (repo / ".claude" / "settings.json").exists() and not (repo / ".claude" / "traces.json").exists()


# --- init --statusline ----------------------------------------------------------------------

def test_init_statusline_goes_to_this_machines_settings_and_disable_removes_it(repo):
    assert traces.main(["init", "--local", "--yes", "--statusline"]) == 0
    ours = read_settings(repo, local=True)["statusLine"]
    assert ours["type"] == "command" and ours["command"].endswith("statusline " + traces.STATUSLINE_MARK)
    assert ours["refreshInterval"] == traces.STATUSLINE_REFRESH     # uploads change nothing on the screen
    assert "statusLine" not in read_settings(repo)
    assert traces.main(["disable"]) == 0
    assert not (repo / ".claude" / "settings.local.json").exists()


def test_init_statusline_never_replaces_theirs_with_yes(repo, capsys):
    (repo / ".claude").mkdir()
    theirs = '{\n  "statusLine": {"type": "command", "command": "echo mine", "padding": 1}\n}\n'
    (repo / ".claude" / "settings.local.json").write_text(theirs)
    assert traces.main(["init", "--local", "--yes", "--statusline"]) == 0
    assert read_settings(repo, local=True)["statusLine"] == {"type": "command", "command": "echo mine", "padding": 1}
    assert "Your status line (.claude/settings.local.json) is kept" in capsys.readouterr().out


def test_init_statusline_shows_ours_after_theirs_when_asked_and_disable_restores_theirs(repo, monkeypatch):
    (repo / ".claude").mkdir()
    mine = {"type": "command", "command": "read x; echo mine", "padding": 1}
    (repo / ".claude" / "settings.local.json").write_text(json.dumps({"statusLine": mine}))
    monkeypatch.setattr(traces, "machine_invocation", lambda me, extra="mlflow": f"{sys.executable} {me} hook")
    answers = iter(["claude", "", "", "y"])
    monkeypatch.setattr(traces, "ask", lambda question, default: next(answers) if "status line" not in question
                        else "y")
    assert traces.main(["init", "--local", "--statusline"]) == 0
    chained = read_settings(repo, local=True)["statusLine"]
    assert chained["padding"] == 1 and chained["refreshInterval"] == traces.STATUSLINE_REFRESH
    done = subprocess.run(["sh", "-c", chained["command"]], input=json.dumps({"workspace": {"project_dir": str(repo)}}),
                          capture_output=True, text=True)
    assert done.stdout.startswith("mine  traces ✓ 0 turns"), done.stderr
    assert traces.main(["disable"]) == 0
    assert read_settings(repo, local=True) == {"statusLine": mine}


def test_init_statusline_refuses_malformed_settings_untouched(repo, capsys):
    (repo / ".claude").mkdir()
    (repo / ".claude" / "settings.local.json").write_text("{not json")
    assert traces.main(["init", "--local", "--yes", "--statusline"]) == 1
    assert "not valid JSON" in capsys.readouterr().err
    assert (repo / ".claude" / "settings.local.json").read_text() == "{not json"


def test_the_hook_finds_the_default_home_without_traces_home(repo, monkeypatch):
    assert traces.main(["budget", "set", "--day", "1", "--block"]) == 0
    spend(repo, "s1", 2)
    xdg = os.path.join(os.path.dirname(os.environ["TRACES_HOME"]), "xdg")
    os.makedirs(xdg)
    os.rename(os.environ["TRACES_HOME"], os.path.join(xdg, "claudetracing"))
    monkeypatch.delenv("TRACES_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", xdg)
    assert run_hook(repo, "s1")["decision"] == "block"


def test_gemini_gets_the_budget_hook_where_it_is_wired(repo, capsys):
    assert traces.main(["init", "--local", "--yes", "--agent", "claude,gemini"]) == 0
    assert traces.main(["budget", "set", "--day", "5"]) == 0
    gemini = json.loads((repo / ".gemini" / "settings.json").read_text())
    assert [h["command"] for g in gemini["hooks"]["BeforeAgent"] for h in g["hooks"]] == [traces.BUDGET_COMMAND]
    assert traces.main(["budget", "off"]) == 0
    assert "BeforeAgent" not in json.loads((repo / ".gemini" / "settings.json").read_text())["hooks"]
    assert traces.main(["budget", "set", "--day", "5"]) == 0
    assert traces.main(["disable"]) == 0
    assert not (repo / ".gemini").exists()
