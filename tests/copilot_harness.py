"""Drive the real GitHub Copilot CLI (npm @github/copilot, pinned in the Makefile) offline,
against tests/fake_openai_chat.py.

    with FakeChat() as api:
        run_copilot(home, project, api.url, "RUN: echo hi")
        run_copilot(home, project, api.url, "again", "--continue")

The npm package is a loader: its first run unpacks the native CLI (~235 MB, a few seconds).
COPILOT_PKG_CACHE_HOME points that at .cache/copilot/unpacked, shared by every test, so a test's
own HOME stays small and only the first run anywhere pays for the unpacking.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COPILOT = REPO / ".cache" / "copilot" / "node_modules" / ".bin" / "copilot"
UNPACKED = REPO / ".cache" / "copilot" / "unpacked"
MODEL = "gpt-4.1"
# Copilot's own token counts (session.shutdown's modelMetrics) for each of our token keys.
LEDGER = {"input": ("inputTokens", "cacheReadTokens", "cacheWriteTokens"), "output": ("outputTokens",),
          "cache_read": ("cacheReadTokens",), "cache_creation": ("cacheWriteTokens",)}


def copilot_env(home: Path, url: str, **extra: str) -> dict[str, str]:
    """The environment of an offline run: our model endpoint, no sign-in, no update checks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COPILOT_", "GITHUB_", "GH_"))}
    env.update(HOME=str(home), COPILOT_OFFLINE="true", COPILOT_PROVIDER_BASE_URL=url, COPILOT_PROVIDER_TYPE="openai",
               COPILOT_MODEL=MODEL, COPILOT_AUTO_UPDATE="false", COPILOT_PKG_CACHE_HOME=str(UNPACKED), **extra)
    return env


def run_copilot(home: Path, cwd: Path, url: str, prompt: str, *flags: str, env: dict | None = None,
                timeout: float = 180) -> subprocess.CompletedProcess:
    """`copilot -p PROMPT` headless, every tool allowed; raises when it fails."""
    done = subprocess.run([str(COPILOT), "-p", prompt, "--allow-all-tools", "--no-auto-update", *flags],
                          cwd=cwd, env={**copilot_env(home, url), **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"copilot exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done


def session_files(home: Path) -> list[Path]:
    return sorted((home / ".copilot" / "session-state").glob("*/events.jsonl"))


def copilots_ledger(events):
    """Copilot's own totals for the session: its last session.shutdown, in our token keys
    (inputTokens counts cache reads and writes; ours does not)."""
    shutdown = [json.loads(line) for line in events.read_text().splitlines() if '"session.shutdown"' in line][-1]
    metrics = [m["usage"] for m in shutdown["data"]["modelMetrics"].values()]
    ledger = {key: sum(m[fields[0]] for m in metrics) for key, fields in LEDGER.items()}
    ledger["input"] -= ledger["cache_read"] + ledger["cache_creation"]
    return ledger
