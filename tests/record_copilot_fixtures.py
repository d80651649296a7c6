"""Record tests/fixtures/copilot-1.0.102/ from the real Copilot CLI, offline, against
tests/fake_openai_chat.py:

    .venv/bin/python tests/record_copilot_fixtures.py

- resumed/events.jsonl: three prompts in one session (two shell calls, one failing; then
  `--resume=<id>` with a shell call; then `--continue` with a plain question), each process
  ending with its session.shutdown (Copilot's own totals, cumulative).
- single/events.jsonl: one prompt, one shell call.
- subagent/events.jsonl: a `task` call whose general-purpose subagent runs a shell call (its
  records, in the same file, carry its agentId), then a shell call of the main agent.
A personal hook (Copilot's own format) runs at agentStop, so the files hold its hook.start and
hook.end as a traced session's do. The system prompt (about 30 KB a process) is cut short.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from copilot_harness import run_copilot, session_files  # noqa: E402
from fake_openai_chat import FakeChat  # noqa: E402

OUT = Path(__file__).resolve().parent / "fixtures" / "copilot-1.0.102"
PROMPTS = {
    "resumed": [("List and fail.\nRUN: echo hello\nRUN: ls /nonexistent-folder", ()),
                ("Count.\nRUN: printf 'a\\nb\\n' | wc -l", ("--resume={session}",)),
                ("What did you find?", ("--continue",))],
    "single": [("Say hi.\nRUN: echo hi", ())],
    "subagent": [("Delegate.\nSPAWN: Sub task. ; RUN: echo from-sub\nRUN: echo main", ())],
}


def trimmed(path: Path) -> str:
    lines = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record["type"] == "system.message":
            record["data"]["content"] = record["data"]["content"][:200] + " [cut by record_copilot_fixtures.py]"
        lines.append(json.dumps(record, separators=(",", ":")))
    return "\n".join(lines) + "\n"


def main() -> None:
    for name, prompts in PROMPTS.items():
        with tempfile.TemporaryDirectory() as tmp, FakeChat() as api:
            home, project = Path(tmp) / "home", Path(tmp) / "project"
            (home / ".copilot" / "hooks").mkdir(parents=True)
            project.mkdir()
            (home / ".copilot" / "hooks" / "stop.json").write_text(json.dumps(
                {"version": 1, "hooks": {"agentStop": [{"type": "command", "bash": "cat >/dev/null", "timeoutSec": 5}]}}))
            session = None
            for prompt, flags in prompts:
                run_copilot(home, project, api.url, prompt, *(f.format(session=session) for f in flags))
                session = session or session_files(home)[0].parent.name
            (OUT / name).mkdir(parents=True, exist_ok=True)
            text = re.sub(re.escape(tmp), "/tmp/copilot-fixture", trimmed(session_files(home)[0]))
            (OUT / name / "events.jsonl").write_text(text)
            print(name, session, len(text), "bytes")
    shutil.rmtree(OUT / "__pycache__", ignore_errors=True)


if __name__ == "__main__":
    main()
