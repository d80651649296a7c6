"""`traces init --agent codex`, status and disable: Codex's hooks, their trust entries, and
nothing else of the user's Codex configuration touched."""

import json
import os

import pytest
import tomllib
from codex_harness import hook_key, trust_hash
from helpers import git

import traces

OTHER = 'model = "gpt-test"\n\n[model_providers.x]\nbase_url = "http://127.0.0.1:1/v1"\n\n' \
        '[hooks.state."/elsewhere/hooks.json:stop:0:0"]\ntrusted_hash = "sha256:abc"\n'


@pytest.fixture
def repo(tmp_path, monkeypatch):
    root = tmp_path / "widgets"
    root.mkdir()
    git(root, "init", "-q")
    home = tmp_path / "codex-home"
    home.mkdir()
    (home / "config.toml").write_text(OTHER)
    monkeypatch.setenv("CODEX_HOME", str(home))
    monkeypatch.chdir(root)
    return root, home


def test_init_wires_and_trusts_codex_hooks_and_disable_removes_them(repo, capsys):
    root, home = repo
    assert traces.main(["init", "--agent", "codex", "--local", "--yes"]) == 0
    hooks = json.loads((home / "hooks.json").read_text())["hooks"]
    assert sorted(hooks) == ["SessionEnd", "Stop"]
    config = tomllib.loads((home / "config.toml").read_text())
    assert config["model_providers"]["x"]["base_url"] == "http://127.0.0.1:1/v1"
    for event in ("Stop", "SessionEnd"):
        handler = hooks[event][0]["hooks"][0]
        assert str(root) in handler["command"] and "traces" in handler["command"]
        key = hook_key(home / "hooks.json", event)
        assert config["hooks"]["state"][key]["trusted_hash"] == trust_hash(event, handler)
    assert config["hooks"]["state"]["/elsewhere/hooks.json:stop:0:0"] == {"trusted_hash": "sha256:abc"}
    assert not (root / ".claude" / "settings.json").exists()      # Claude Code was not asked for
    before = (home / "config.toml").read_text()
    assert traces.main(["init", "--agent", "codex", "--local", "--yes"]) == 0
    assert (home / "config.toml").read_text() == before            # nothing to change
    capsys.readouterr()
    assert traces.main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["codex"]["trusted"] is True
    assert traces.main(["disable"]) == 0
    assert not os.path.exists(home / "hooks.json")
    assert (home / "config.toml").read_text() == OTHER


def test_init_refuses_a_config_it_cannot_parse(repo, capsys):
    root, home = repo
    (home / "config.toml").write_text("model = \n")
    assert traces.main(["init", "--agent", "claude,codex", "--local", "--yes"]) == 1
    assert "cannot parse" in capsys.readouterr().err
    assert not (root / ".claude").exists()


def test_agents_can_be_listed_or_repeated(repo):
    for given in (["claude,codex"], ["claude", "codex"]):
        assert traces.parse_agents(given) == ["claude", "codex"]
    with pytest.raises(traces.TracesError):
        traces.parse_agents(["cursor"])
