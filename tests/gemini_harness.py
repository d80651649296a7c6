"""Helpers to run the real Gemini CLI offline against tests/fake_gemini.py (stdlib only).

    from fake_gemini import FakeGemini
    from gemini_harness import gemini_bin, gemini_home, gemini_env, run_gemini, install_hooks

    gemini_bin() or pytest.skip("gemini not installed")
    with FakeGemini() as api:
        home = gemini_home(tmp_path / "home")                   # HOME, with ~/.gemini/settings.json
        install_hooks(home, tmp_path / "hooks.jsonl")           # AfterAgent + SessionEnd recorders
        env = gemini_env(home, api.url)
        first = run_gemini(repo, "RUN: echo hi", env)           # a GeminiRun (-o json)
        again = run_gemini(repo, "and again", env, resume=True) # --resume latest
        chat = find_chat(home, first.session_id)

Gemini CLI keeps everything under ~/.gemini (settings.json, tmp/<project>/chats/); HOME is a
temp folder so nothing of the developer's is read.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# Where `make gemini` npm-installs the pinned version; GEMINI_BIN overrides.
BUNDLED_BIN = REPO_ROOT / ".cache" / "gemini-cli" / "node_modules" / ".bin" / "gemini"
GEMINI_VERSION = "0.61.0"
MODEL = "gemini-2.5-flash"
# Without selectedType the base URL picks a "gateway" auth and the run fails (exit 41); the
# rest keeps the CLI from calling home.
SETTINGS = {"security": {"auth": {"selectedType": "gemini-api-key"}},
            "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
            "privacy": {"usageStatisticsEnabled": False}, "telemetry": {"enabled": False}}


def gemini_bin() -> str | None:
    """Path of the gemini binary to test with, or None (tests then skip)."""
    for candidate in (os.environ.get("GEMINI_BIN"), str(BUNDLED_BIN)):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def gemini_home(home: str | os.PathLike) -> Path:
    """A HOME whose ~/.gemini/settings.json selects the API key auth and quiet settings."""
    home = Path(home)
    (home / ".gemini").mkdir(parents=True, exist_ok=True)
    (home / ".gemini" / "settings.json").write_text(json.dumps(SETTINGS, indent=2) + "\n")
    return home


def gemini_env(home: str | os.PathLike, api_url: str, trust: bool = True, **extra: str) -> dict[str, str]:
    """Environment for an offline run (fresh, not os.environ). trust: the folder counts as
    trusted (GEMINI_CLI_TRUST_WORKSPACE), as after the user said so in an interactive run."""
    home = str(home)
    env = {"HOME": home, "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "LANG": "C.UTF-8",
           "TERM": "dumb", "USER": os.environ.get("USER", "root"), "GEMINI_API_KEY": "ct-test-dummy",
           "GOOGLE_GEMINI_BASE_URL": api_url, "XDG_CONFIG_HOME": str(Path(home) / ".config"),
           "XDG_CACHE_HOME": str(Path(home) / ".cache")}
    if trust:
        env["GEMINI_CLI_TRUST_WORKSPACE"] = "true"
    env.update(extra)
    return env


@dataclass
class GeminiRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> dict:
        try:
            return json.loads(self.stdout[self.stdout.index("{"):])
        except ValueError:
            return {}

    @property
    def session_id(self) -> str | None:
        return self.output.get("session_id")

    @property
    def tokens(self) -> dict[str, dict]:
        """Gemini's own ledger of this process: {model: {prompt, input, cached, candidates, thoughts, tool, total}}."""
        models = (self.output.get("stats") or {}).get("models") or {}
        return {name: stats["tokens"] for name, stats in models.items()}


def run_gemini(cwd: str | os.PathLike, prompt: str, env: dict[str, str], resume: bool = False,
               model: str = MODEL, timeout: float = 120) -> GeminiRun:
    """`gemini -p PROMPT --yolo -m MODEL -o json [--resume latest]`, waited for."""
    binary = gemini_bin()
    if binary is None:
        raise RuntimeError("gemini not found (run `make gemini` or set GEMINI_BIN)")
    args = [binary, "-p", prompt, "--yolo", "-m", model, "-o", "json"] + (["--resume", "latest"] if resume else [])
    proc = subprocess.Popen(args, cwd=str(cwd), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise RuntimeError(f"gemini timed out after {timeout}s:\n{err[-2000:]}") from None
    return GeminiRun(proc.returncode, out, err)


def chats(home: str | os.PathLike) -> list[Path]:
    """Every chat file under ~/.gemini/tmp/*/chats, oldest first."""
    return sorted(Path(home).glob(".gemini/tmp/*/chats/session-*.json*"))


def find_chat(home: str | os.PathLike, session_id: str) -> Path | None:
    """The chat file of a session: its name holds the id's first 8 characters."""
    found = [p for p in chats(home) if p.stem.endswith(session_id[:8])]
    return found[0] if found else None


def ledger_total(runs: list[GeminiRun]) -> dict[str, int]:
    """Gemini's own tokens over several processes (a session resumed is several), all models."""
    total: dict[str, int] = {}
    for run in runs:
        for tokens in run.tokens.values():
            for key, value in tokens.items():
                total[key] = total.get(key, 0) + value
    return total


# --------------------------------------------------------------------------- hooks

# Appends one JSON line per call: the event, the parsed stdin, and how many lines the chat file
# had when the hook ran (hooks run synchronously, so that is what the CLI had written).
HOOK_SCRIPT = textwrap.dedent("""\
    import json, os, sys
    event, out = sys.argv[1], sys.argv[2]
    raw = sys.stdin.read()
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = {"unparsed": raw}
    path = payload.get("transcript_path") if isinstance(payload, dict) else None
    lines = None
    if path and os.path.exists(path):
        with open(path, "rb") as f:
            lines = f.read().count(b"\\n")
    with open(out, "a") as f:
        f.write(json.dumps({"event": event, "stdin": payload, "chat_lines": lines}) + "\\n")
""")
HOOK_EVENTS = ("AfterAgent", "SessionEnd")


def install_hooks(home: str | os.PathLike, out: str | os.PathLike, events: tuple[str, ...] = HOOK_EVENTS) -> Path:
    """Add recording hooks to ~/.gemini/settings.json; returns the settings path."""
    home = Path(home)
    script = home / "capture_hook.py"
    script.write_text(HOOK_SCRIPT)
    path = home / ".gemini" / "settings.json"
    settings = json.loads(path.read_text())
    settings["hooks"] = {event: [{"matcher": "*", "hooks": [
        {"type": "command", "command": f"python3 {script} {event} {out}", "timeout": 10000}]}] for event in events}
    path.write_text(json.dumps(settings, indent=2) + "\n")
    return path


def read_hooks(out: str | os.PathLike) -> list[dict]:
    path = Path(out)
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
