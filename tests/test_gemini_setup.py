"""`traces init --agent gemini`, status, doctor and disable: our hooks in the repository's
.gemini/settings.json and nothing else of it touched; folder trust reported, never granted."""

import json
import os

import traces

THEIRS = {"model": {"name": "gemini-2.5-pro"},
          "hooks": {"enabled": True, "AfterAgent": [{"matcher": "*", "hooks": [{"type": "command", "command": "notify"}]}]}}


def gemini_settings(repo):
    return repo / ".gemini" / "settings.json"


def trust(home, rules):
    (home / ".gemini").mkdir(exist_ok=True)
    (home / ".gemini" / "trustedFolders.json").write_text(json.dumps(rules))


def doctor(capsys):
    capsys.readouterr()
    rc = traces.main(["doctor", "--no-roundtrip"])
    out = capsys.readouterr().out
    return rc, [row for row in out.splitlines() if row.split()[1:2] == ["gemini"]], out


def test_init_writes_the_project_hooks_and_disable_removes_exactly_them(repo, capsys):
    path = gemini_settings(repo)
    path.parent.mkdir()
    path.write_text(json.dumps(THEIRS, indent=4) + "\n")
    assert traces.main(["init", "--agent", "gemini", "--local", "--yes"]) == 0
    data = json.loads(path.read_text())
    assert data["model"] == THEIRS["model"] and data["hooks"]["enabled"] is True
    assert data["hooks"]["AfterAgent"][0] == THEIRS["hooks"]["AfterAgent"][0]      # theirs first, kept
    for event in ("AfterAgent", "SessionEnd"):
        [ours] = [h for g in data["hooks"][event] for h in g["hooks"] if "traces" in h["command"]]
        assert ours["command"].startswith("export CLAUDETRACING_AGENT=gemini; ")
        # Gemini CLI rewrites the text $CLAUDE_PROJECT_DIR (quoted) in a command: ours reads it braced.
        assert "$CLAUDE_PROJECT_DIR" not in ours["command"] and "${CLAUDE_PROJECT_DIR}/.claude/" in ours["command"]
    assert path.read_text().startswith('{\n    "model"')                            # its indentation kept
    assert not (repo / ".claude" / "settings.json").exists()                       # Claude Code was not asked for
    before = path.read_text()
    capsys.readouterr()
    assert traces.main(["init", "--agent", "gemini", "--local", "--yes"]) == 0
    assert path.read_text() == before                                              # nothing to change
    assert traces.main(["disable"]) == 0
    assert json.loads(path.read_text()) == THEIRS


def test_init_says_to_restart_the_agents_it_wired(repo, capsys):
    assert traces.main(["init", "--agent", "gemini", "--local", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "restart Gemini CLI in this repository" in out and "Claude Code" not in out, out
    assert traces.main(["init", "--agent", "claude,codex,gemini", "--local", "--yes"]) == 0
    assert "restart Claude Code, Codex and Gemini CLI in this repository" in capsys.readouterr().out


def test_a_settings_file_init_created_is_removed_by_disable(repo):
    assert traces.main(["init", "--agent", "claude,gemini", "--local", "--yes"]) == 0
    assert gemini_settings(repo).exists()
    assert traces.main(["disable"]) == 0
    assert not (repo / ".gemini").exists()


def test_init_refuses_a_settings_file_with_comments_and_changes_nothing(repo, capsys):
    path = gemini_settings(repo)
    path.parent.mkdir()
    path.write_text('{\n  // mine\n  "model": {"name": "x"}\n}\n')
    assert traces.main(["init", "--agent", "gemini", "--local", "--yes"]) == 1
    assert "not plain JSON" in capsys.readouterr().err
    assert path.read_text() == '{\n  // mine\n  "model": {"name": "x"}\n}\n'
    assert not (repo / ".claude").exists()


def test_untrusted_folder_is_said_by_init_status_and_doctor_and_never_trusted(repo, capsys, tmp_path):
    home = tmp_path / "home"
    assert traces.main(["init", "--agent", "gemini", "--local", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "Gemini CLI runs no hooks in this folder yet" in out and "trust it when asked" in out
    assert not (home / ".gemini" / "trustedFolders.json").exists()
    assert traces.main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["gemini"]["trusted"] is False
    assert status["configured"] is True                 # for Gemini CLI alone: no Claude Code hooks needed
    rc, [line], out = doctor(capsys)
    assert rc == 1 and line.startswith("FAIL") and "runs no hooks in this folder" in line
    assert "settings" in out and "Gemini CLI only" in out          # no Claude Code hooks, and that is fine
    trust(home, {str(repo.parent): "TRUST_FOLDER", str(repo): "DO_NOT_TRUST"})     # the longest rule wins
    rc, [line], _ = doctor(capsys)
    assert rc == 1 and "says not to trust this folder" in line
    trust(home, {str(repo / "README.md"): "TRUST_PARENT"})
    rc, [line], _ = doctor(capsys)
    assert rc == 0 and line.startswith("ok") and "hooks for AfterAgent, SessionEnd; trusted in" in line
    capsys.readouterr()
    assert traces.main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["gemini"]["trusted"] is True


def test_folder_trust_turned_off_counts_as_trusted(repo, capsys, tmp_path):
    (tmp_path / "home" / ".gemini").mkdir(parents=True)
    (tmp_path / "home" / ".gemini" / "settings.json").write_text(json.dumps({"security": {"folderTrust": {"enabled": False}}}))
    assert traces.main(["init", "--agent", "gemini", "--local", "--yes"]) == 0
    assert "runs no hooks" not in capsys.readouterr().out
    rc, [line], _ = doctor(capsys)
    assert rc == 0 and "folder trust is off" in line


def test_a_repository_not_wired_for_gemini_has_no_gemini_line(repo, capsys):
    assert traces.main(["init", "--local", "--yes"]) == 0
    rc, lines, out = doctor(capsys)
    assert rc == 0 and lines == [], out
    assert traces.main(["status", "--json"]) == 0
    assert "gemini" not in json.loads(capsys.readouterr().out)


def test_gemini_is_wired_per_repository(repo, capsys):
    assert traces.main(["init", "--user-wide", "--agent", "gemini", "--yes"]) == 1
    assert "Gemini CLI is wired per repository" in capsys.readouterr().err
    assert not os.path.exists(os.path.join(os.environ["HOME"], ".gemini"))
    assert not os.path.exists(os.path.join(os.environ["HOME"], ".claude", "settings.json"))


def test_a_repository_traced_for_codex_and_gemini_alone_names_both(repo, capsys):
    assert traces.main(["init", "--agent", "codex,gemini", "--local", "--yes"]) == 0
    rc, _, out = doctor(capsys)
    settings = next(row for row in out.splitlines() if row.split()[1:2] == ["settings"])
    assert "traced for Codex and Gemini CLI only" in settings, out
    assert traces.main(["status"]) == 0
    rows = dict(row.split(None, 1) for row in capsys.readouterr().out.splitlines()[1:])
    assert "hooks.json" in rows["codex"] and rows["gemini"].startswith(".gemini/settings.json"), rows
    assert traces.main(["disable"]) == 0
    assert not (repo / ".gemini").exists()
    capsys.readouterr()
    assert traces.main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert "codex" not in status and "gemini" not in status
    assert not any(agent["wired"] for agent in status["agents"].values())
