"""Helpers to run the real Codex CLI binary offline against tests/fake_openai.py (stdlib only).

    from tests.fake_openai import FakeOpenAI
    from tests.codex_harness import codex_bin, codex_home, codex_env, run_codex, install_hooks

    codex_bin() or pytest.skip("codex not installed")
    with FakeOpenAI() as api:
        home = codex_home(tmp_path / "codex-home", api.url)
        hooks = install_hooks(home, tmp_path / "hooks.jsonl")     # Stop + SessionEnd
        env = codex_env(home)
        first = run_codex(repo, "RUN: echo hi", env)              # a CodexRun
        again = run_codex(repo, "and again", env, resume="last")
        rollout = find_rollout(home, first.session_id)

Codex keeps everything under CODEX_HOME (config.toml, hooks.json, sessions/, sqlite state);
HOME is set to the same temp folder so nothing of the developer's ~/.codex is read.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# Where `make codex` npm-installs the pinned version; CODEX_BIN overrides.
BUNDLED_BIN = REPO_ROOT / ".cache" / "codex" / "node_modules" / ".bin" / "codex"
CODEX_VERSION = "0.169.0"
MODEL = "gpt-test"
PROVIDER = "ctfake"
API_KEY_ENV = "CT_FAKE_OPENAI_KEY"
# Codex's own system prompt is ~21 KB and is copied into every rollout's session_meta; a short
# one keeps fixtures small without changing anything the tracer reads.
INSTRUCTIONS = "You are a test agent. Run the commands the user lists, then answer briefly.\n"


def codex_bin() -> str | None:
    """Path of the codex binary to test with, or None (tests then skip)."""
    for candidate in (os.environ.get("CODEX_BIN"), str(BUNDLED_BIN)):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


# --------------------------------------------------------------------------- CODEX_HOME


def codex_home(home: str | os.PathLike, api_url: str, extra_toml: str = "") -> Path:
    """Make a CODEX_HOME whose config.toml points Codex at the stand-in.

    extra_toml is appended (tables only: top-level keys must come before the first table).
    """
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    (home / "instructions.md").write_text(INSTRUCTIONS)
    config = textwrap.dedent(f"""\
        model = "{MODEL}"
        model_provider = "{PROVIDER}"
        model_instructions_file = "{home / 'instructions.md'}"
        # The skills catalogue is another ~5 KB developer message in every rollout.
        skills.include_instructions = false
        check_for_update_on_startup = false

        [model_providers.{PROVIDER}]
        name = "claudetracing stand-in"
        base_url = "{api_url}"
        env_key = "{API_KEY_ENV}"
        wire_api = "responses"
        request_max_retries = 0
        stream_max_retries = 0
        """)
    (home / "config.toml").write_text(config + extra_toml)
    return home


def codex_env(home: str | os.PathLike, **extra: str) -> dict[str, str]:
    """Environment for an offline, reproducible codex run (fresh, not os.environ)."""
    home = str(home)
    env = {
        "HOME": home,
        "CODEX_HOME": home,
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "USER": os.environ.get("USER", "root"),
        API_KEY_ENV: "sk-ct-test-dummy",
        "XDG_CONFIG_HOME": str(Path(home) / ".config"),
        "XDG_DATA_HOME": str(Path(home) / ".local" / "share"),
        "XDG_CACHE_HOME": str(Path(home) / ".cache"),
    }
    env.update(extra)
    return {k: v for k, v in env.items() if not k.startswith("OTEL_")}


# --------------------------------------------------------------------------- running codex


@dataclass
class CodexRun:
    returncode: int
    session_id: str | None  # from the `thread.started` event of --json
    stdout: str  # JSONL events (--json)
    stderr: str

    def events(self) -> list[dict]:
        out = []
        for line in self.stdout.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out


def exec_args(prompt: str, resume: str | None = None, trust_hooks: bool = False,
              extra_args: list[str] | None = None) -> list[str]:
    """`codex exec [resume --last|ID] ... PROMPT` arguments (without the binary)."""
    flags = ["--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", "--json"]
    if trust_hooks:
        flags.append("--dangerously-bypass-hook-trust")
    flags += extra_args or []
    if resume is None:
        return ["exec", *flags, prompt]
    target = ["--last"] if resume == "last" else [resume]
    return ["exec", "resume", *flags, *target, prompt]


def run_codex(cwd: str | os.PathLike, prompt: str, env: dict[str, str], resume: str | None = None,
              trust_hooks: bool = False, timeout: float = 120,
              extra_args: list[str] | None = None) -> CodexRun:
    """Run `codex exec` once (resume: None, "last" or a session id) and wait for it.

    The npm wrapper is a node process that spawns the native binary; on a timeout both are
    killed through their process group (killing node alone leaves the binary running).
    """
    binary = codex_bin()
    if binary is None:
        raise RuntimeError("codex binary not found (run `make codex` or set CODEX_BIN)")
    args = [binary, *exec_args(prompt, resume, trust_hooks, extra_args)]
    proc = subprocess.Popen(args, cwd=str(cwd), env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise RuntimeError(f"codex timed out after {timeout}s:\n{err[-2000:]}") from None
    run = CodexRun(proc.returncode, None, out, err)
    for event in run.events():
        if event.get("type") == "thread.started":
            run.session_id = event.get("thread_id")
    return run


def rollouts(home: str | os.PathLike) -> list[Path]:
    """Every rollout file under CODEX_HOME/sessions, oldest first."""
    return sorted(Path(home).glob("sessions/*/*/*/rollout-*.jsonl"))


def find_rollout(home: str | os.PathLike, session_id: str) -> Path | None:
    """sessions/YYYY/MM/DD/rollout-<time>-<session id>.jsonl for that session."""
    found = [p for p in rollouts(home) if p.stem.endswith(session_id)]
    return found[0] if found else None


def read_rollout(path: str | os.PathLike) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


# --------------------------------------------------------------------------- hooks

# The hook: appends one JSON line per call to OUT (under a lock, since hooks of a session and
# its subagents can run at once): the event, the parsed stdin, how many lines the rollout had
# when the hook ran, and which CODEX_* variables it saw (token-ish values redacted).
HOOK_SCRIPT = textwrap.dedent("""\
    import fcntl, json, os, sys
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
    env = {k: "<redacted>" if "TOKEN" in k or "KEY" in k else v
           for k, v in os.environ.items() if k.startswith(("CODEX", "OTEL_"))}
    record = {"event": event, "stdin": payload, "env": env, "rollout_lines": lines}
    with open(out, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(json.dumps(record) + "\\n")
""")
HOOK_EVENTS = ("Stop", "SessionEnd")
HOOK_TIMEOUT = 30
# Codex clamps a SessionEnd hook's timeout to 3 s (with a warning) and hashes the clamped value.
SESSION_END_MAX_TIMEOUT = 3
# Codex's key label for each event (snake case), used in [hooks.state."<file>:<label>:g:h"].
EVENT_LABELS = {"PreToolUse": "pre_tool_use", "PermissionRequest": "permission_request",
                "PostToolUse": "post_tool_use", "PreCompact": "pre_compact",
                "PostCompact": "post_compact", "SessionStart": "session_start",
                "UserPromptSubmit": "user_prompt_submit", "SubagentStart": "subagent_start",
                "SubagentStop": "subagent_stop", "Stop": "stop", "SessionEnd": "session_end"}


def hook_command(script: Path, event: str, out: Path) -> str:
    # Plain `python3` keeps the command (which Codex may echo) the same on every machine.
    return f"python3 {script} {event} {out}"


def install_hooks(home: str | os.PathLike, out: str | os.PathLike,
                  events: tuple[str, ...] = HOOK_EVENTS, trust: bool = False) -> Path:
    """Write CODEX_HOME/hooks.json: one command hook per event appending its stdin to OUT.

    Unmanaged hooks run only when trusted: pass trust=True to persist trust entries in
    config.toml (what `codex` does when a user accepts them), or run with trust_hooks=True
    (--dangerously-bypass-hook-trust). Returns the hooks.json path.
    """
    home, out = Path(home), Path(out)
    script = home / "capture_hook.py"
    script.write_text(HOOK_SCRIPT)
    handlers = {event: {"type": "command", "command": hook_command(script, event, out),
                        "timeout": SESSION_END_MAX_TIMEOUT if event == "SessionEnd" else HOOK_TIMEOUT}
                for event in events}
    hooks_json = home / "hooks.json"
    hooks_json.write_text(json.dumps(
        {"hooks": {event: [{"hooks": [handler]}] for event, handler in handlers.items()}},
        indent=2) + "\n")
    if trust:
        with open(home / "config.toml", "a") as f:
            for event, handler in handlers.items():
                f.write(f'\n[hooks.state."{hook_key(hooks_json, event)}"]\n'
                        f'trusted_hash = "{trust_hash(event, handler)}"\n')
    return hooks_json


def hook_key(source: str | os.PathLike, event: str, group: int = 0, handler: int = 0) -> str:
    """The key Codex files a hook's state under: `<source file>:<event label>:<group>:<handler>`."""
    return f"{source}:{EVENT_LABELS[event]}:{group}:{handler}"


def trust_hash(event: str, handler: dict, matcher: str | None = None) -> str:
    """The `trusted_hash` Codex expects for one command hook (codex-rs/hooks discovery.rs).

    Codex hashes a normalized identity, not the file's text: {"event_name": <label>,
    "matcher"?: ..., "hooks": [<the one handler>]} with the handler normalized to
    {"type": "command", "command", "timeout" (default 600, at least 1; SessionEnd's clamped to
    3), "async" (default false), "statusMessage" only when set}; fields that are None are dropped (the identity goes
    through a TOML value), keys are sorted recursively, JSON is compact, then sha256.
    """
    timeout = max(int(handler.get("timeout", handler.get("timeoutSec", 600))), 1)
    if event == "SessionEnd":
        timeout = min(timeout, SESSION_END_MAX_TIMEOUT)
    normalized = {"type": "command", "command": handler["command"], "timeout": timeout,
                  "async": bool(handler.get("async", False))}
    if handler.get("statusMessage") is not None:
        normalized["statusMessage"] = handler["statusMessage"]
    identity: dict = {"event_name": EVENT_LABELS[event], "hooks": [normalized]}
    if matcher is not None:
        identity["matcher"] = matcher
    data = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(data.encode()).hexdigest()


def read_hooks(out: str | os.PathLike) -> list[dict]:
    path = Path(out)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --------------------------------------------------------------------------- repository


def make_repo(path: str | os.PathLike) -> Path:
    """A git repository with one commit and an origin remote (Codex records git info)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=Fixture Bot", "-c", "user.email=bot@example.com",
                        *args], cwd=path, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (path / "README.md").write_text("# widgets\n")
    git("add", "-A")
    git("commit", "-q", "-m", "Initial commit")
    git("remote", "add", "origin", "git@github.com:acme/widgets.git")
    return path


def last_token_count(rollout):
    """Codex's own running total of a rollout (its last token_count event), as Codex writes it."""
    total = None
    for line in open(rollout):
        record = json.loads(line)
        payload = record.get("payload") or {}
        if record.get("type") == "event_msg" and payload.get("type") == "token_count" and payload.get("info"):
            total = payload["info"]["total_token_usage"]
    return total
