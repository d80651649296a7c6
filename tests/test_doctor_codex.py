"""traces doctor on a repository wired for Codex: one `codex` line for its hooks in
CODEX_HOME/hooks.json, their trust entries in config.toml and its sessions folder; no such line
for a repository Codex does not trace. The files are the ones `traces init --agent codex` writes."""

import json

import pytest
import tomllib

import traces


@pytest.fixture
def codex_home(tmp_path, monkeypatch):
    home = tmp_path / "codex-home"
    home.mkdir()
    monkeypatch.setenv("CODEX_HOME", str(home))
    return home


def init(*agents):
    assert traces.main(["init", "--agent", ",".join(agents), "--local", "--yes"]) == 0


def doctor(capsys):
    capsys.readouterr()
    rc = traces.main(["doctor", "--no-roundtrip"])
    return rc, capsys.readouterr().out


def codex_line(out):
    return [row for row in out.splitlines() if row.split()[1:2] == ["codex"]]


def test_a_wired_and_trusted_repository_has_an_ok_codex_line(repo, codex_home, capsys):
    init("claude", "codex")
    rc, out = doctor(capsys)
    assert rc == 0, out
    assert [row.split()[:2] for row in out.splitlines()] == [
        ["ok", name] for name in ("settings", "hook", "mlflow", "backend", "spool", "env", "codex")]
    [found] = codex_line(out)
    assert f"{codex_home / 'hooks.json'}: hooks for Stop, SessionEnd, trusted" in found
    assert "not created yet (Codex's first session creates it)" in found
    (codex_home / "sessions").mkdir()
    rc, out = doctor(capsys)
    assert f"sessions in {codex_home / 'sessions'}" in codex_line(out)[0]


def test_a_missing_trust_entry_fails_with_the_command_that_trusts_it(repo, codex_home, capsys):
    init("claude", "codex")
    config = codex_home / "config.toml"
    text = config.read_text()
    [key] = [k for k in tomllib.loads(text)["hooks"]["state"] if k.endswith(":session_end:0:0")]
    kept = text.split(f"[hooks.state.{json.dumps(key)}]")
    config.write_text(kept[0] + kept[1].partition("\n\n")[2])
    assert key not in tomllib.loads(config.read_text())["hooks"]["state"]
    rc, out = doctor(capsys)
    assert rc == 1
    [found] = codex_line(out)
    assert found.startswith("FAIL") and "Codex skips the SessionEnd hook" in found
    assert "fix: traces init --agent codex --yes" in found
    init("codex")           # the fix it names
    rc, out = doctor(capsys)
    assert rc == 0 and codex_line(out)[0].startswith("ok"), out


def test_a_hook_changed_since_it_was_trusted_fails_but_not_sessionends_clamped_timeout(repo, codex_home, capsys):
    """Codex hashes SessionEnd's timeout clamped to 3 s: a longer one is the hook it trusted."""
    init("claude", "codex")
    path = codex_home / "hooks.json"
    hooks = json.loads(path.read_text())
    hooks["hooks"]["SessionEnd"][0]["hooks"][0]["timeout"] = 10
    path.write_text(json.dumps(hooks))
    rc, out = doctor(capsys)
    assert rc == 0 and codex_line(out)[0].startswith("ok"), out
    hooks["hooks"]["Stop"][0]["hooks"][0]["timeout"] = 60
    path.write_text(json.dumps(hooks))
    rc, out = doctor(capsys)
    assert rc == 1 and "Codex skips the Stop hook" in codex_line(out)[0]


def test_a_hook_removed_from_hooks_json_fails(repo, codex_home, capsys):
    init("claude", "codex")
    path = codex_home / "hooks.json"
    hooks = json.loads(path.read_text())
    del hooks["hooks"]["Stop"]
    path.write_text(json.dumps(hooks))
    rc, out = doctor(capsys)
    assert rc == 1
    [found] = codex_line(out)
    assert found.startswith("FAIL") and "has no traces hook for this repository at Stop" in found
    assert "fix: traces init --agent codex --yes" in found


def test_a_hooks_file_that_does_not_parse_fails_when_it_names_the_repository(repo, codex_home, capsys):
    init("claude", "codex")
    path = codex_home / "hooks.json"
    path.write_text(path.read_text() + "}")
    rc, out = doctor(capsys)
    assert rc == 1 and "hooks.json is not valid JSON" in codex_line(out)[0]


def test_a_claude_only_repository_has_no_codex_line(repo, codex_home, capsys, tmp_path, monkeypatch):
    init("claude")
    rc, out = doctor(capsys)
    assert rc == 0 and codex_line(out) == [], out
    # Another repository wired for Codex does not make this one so.
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.chdir(other)
    init("codex")
    monkeypatch.chdir(repo)
    rc, out = doctor(capsys)
    assert rc == 0 and codex_line(out) == [], out
    capsys.readouterr()
    assert traces.main(["doctor", "--no-roundtrip", "--json"]) == 0
    assert "codex" not in [r["check"] for r in json.loads(capsys.readouterr().out)]


def test_a_repository_traced_for_codex_alone_passes_without_claude_hooks(repo, codex_home, capsys):
    """Its test turn goes through Codex's own hook command (there is no Claude Code hook)."""
    init("codex")
    capsys.readouterr()
    rc = traces.main(["doctor"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert [row.split()[:2] for row in out.splitlines()] == [
        ["ok", "settings"], ["ok", "hook"], ["ok", "mlflow"], ["ok", "backend"], ["ok", "spool"], ["ok", "env"],
        ["ok", "codex"], ["ok", "roundtrip"]]
    assert "Codex only" in out.splitlines()[0]
    assert out.splitlines()[-1].startswith("ok    roundtrip codex  a test turn went Codex's hook → spool")
