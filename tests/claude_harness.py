"""Helpers to run the real Claude Code binary offline against tests/fakeapi.py (stdlib only).

    from tests.fakeapi import FakeAnthropic
    from tests.claude_harness import claude_bin, claude_env, run_claude, project_dir

    bin = claude_bin() or pytest.skip("claude not installed")
    with FakeAnthropic() as api:
        env = claude_env(home, api.url)
        rc, session, out, err = run_claude(repo, "CT-SCENARIO main", env)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# Where the dev setup npm-installs the pinned version; CLAUDE_BIN overrides.
BUNDLED_BIN = REPO_ROOT / ".cache" / "claude-code" / "node_modules" / ".bin" / "claude"
CLAUDE_VERSION = "2.1.330"


def claude_bin() -> str | None:
    """Path of the claude binary to test with, or None (tests then skip)."""
    for candidate in (os.environ.get("CLAUDE_BIN"), str(BUNDLED_BIN)):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def prepare_home(home: str | os.PathLike) -> Path:
    """Make HOME look like a user who already finished Claude Code's first-run questions.

    Without this, an interactive run stops at onboarding / theme / trust prompts; `-p` mostly
    skips them, but writing the flags keeps runs identical whatever the mode.
    """
    home = Path(home)
    (home / ".claude").mkdir(parents=True, exist_ok=True)
    config = home / ".claude.json"
    data = json.loads(config.read_text()) if config.exists() else {}
    data.update({
        "hasCompletedOnboarding": True,
        "lastOnboardingVersion": CLAUDE_VERSION,
        "bypassPermissionsModeAccepted": True,
        "autoUpdates": False,
        "theme": "dark",
    })
    config.write_text(json.dumps(data, indent=2))
    return home


def claude_env(home: str | os.PathLike, api_url: str, **extra: str) -> dict[str, str]:
    """Environment for an offline, non-interactive, reproducible claude run.

    Starts from a minimal environment rather than os.environ so the developer's own
    credentials, OTEL exporters and Claude Code settings never leak into a test.
    """
    prepare_home(home)
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "USER": os.environ.get("USER", "root"),
        # Point the SDK at the stand-in; any non-empty key is accepted by it.
        "ANTHROPIC_BASE_URL": api_url,
        "ANTHROPIC_API_KEY": "sk-ant-test-dummy",
        # --dangerously-skip-permissions refuses to run as root unless sandboxed.
        "IS_SANDBOX": "1",
        # Nothing may try the internet: updates, telemetry, error reports, feedback.
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_BUG_COMMAND": "1",
        "CLAUDE_CODE_ENABLE_TELEMETRY": "0",
        # Keep config and transcripts inside HOME even if the caller has these set.
        "XDG_CONFIG_HOME": str(Path(home) / ".config"),
        "XDG_DATA_HOME": str(Path(home) / ".local" / "share"),
        "XDG_CACHE_HOME": str(Path(home) / ".cache"),
    }
    # How long our worker stays warm after a turn (the tests keep it short).
    if os.environ.get("CLAUDETRACING_WORKER_IDLE"):
        env["CLAUDETRACING_WORKER_IDLE"] = os.environ["CLAUDETRACING_WORKER_IDLE"]
    env.update(extra)
    # No OTEL_* from the caller (the env is fresh), and none may be passed by accident.
    return {k: v for k, v in env.items() if not k.startswith("OTEL_")}


def run_claude(cwd: str | os.PathLike, prompt: str, env: dict[str, str],
               resume: str | None = None, timeout: float = 180,
               extra_args: list[str] | None = None) -> tuple[int, str | None, str, str]:
    """Run `claude -p PROMPT` once; return (returncode, session_id, stdout, stderr).

    session_id comes from the JSON result on stdout (None if it could not be parsed).
    """
    binary = claude_bin()
    if binary is None:
        raise RuntimeError("claude binary not found (set CLAUDE_BIN)")
    args = [binary, "-p", prompt, "--dangerously-skip-permissions", "--output-format", "json"]
    if resume:
        args += ["--resume", resume]
    args += extra_args or []
    proc = subprocess.run(args, cwd=str(cwd), env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)
    return proc.returncode, _session_id(proc.stdout), proc.stdout, proc.stderr


def _session_id(stdout: str) -> str | None:
    # --output-format json prints one result object; be lenient about stray lines.
    for line in reversed(stdout.strip().splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("session_id"):
            return data["session_id"]
    return None


def project_dir(home: str | os.PathLike, cwd: str | os.PathLike) -> Path:
    """~/.claude/projects/<cwd with every non-alphanumeric character replaced by '-'>.

    Claude Code maps '/' (and '.', '_', ...) to '-'; resolve symlinks first since it uses
    the real path (e.g. /tmp on macOS).
    """
    real = os.path.realpath(str(cwd))
    return Path(home) / ".claude" / "projects" / re.sub(r"[^A-Za-z0-9]", "-", real)


def transcript_path(home: str | os.PathLike, cwd: str | os.PathLike, session_id: str) -> Path:
    return project_dir(home, cwd) / f"{session_id}.jsonl"


def have_git() -> bool:
    return shutil.which("git") is not None
