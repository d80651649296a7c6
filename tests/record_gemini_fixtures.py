"""Re-record the real Gemini CLI chat files and hook payloads under tests/fixtures/gemini-<version>/.

    python tests/record_gemini_fixtures.py [NAME...]  # needs the gemini binary (`make gemini`)

Runs the real binary offline against tests/fake_gemini.py in a throwaway HOME and git repo,
with AfterAgent and SessionEnd command hooks that append their stdin to a file, then copies
what Gemini CLI wrote to tests/fixtures/gemini-<version>/<name>/:

    session-<time>-<id8>.jsonl   the session's chat file, as written under ~/.gemini/tmp/<project>/chats/
    hooks.jsonl                  one line per hook call: {"event", "stdin", "chat_lines" (lines in
                                 transcript_path when it ran)}
    stats-<n>.json               `gemini -o json` stdout of run n: session_id, response, stats
                                 (stats.models.<model>.tokens is Gemini's own ledger of that process)

Fixtures:
    shell    one process: `git status`, `ls` of a missing folder with exit 3, a write_file, an answer.
    resume   one session over three processes: the shell prompt, then `--resume latest` with
             `cat README.md`, then `--resume latest -m gemini-2.5-pro` with a plain question.

HOME and the repo live at a FIXED path (BASE) so paths inside the fixtures are the same on
every re-record; nothing is rewritten after the fact.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_gemini import FakeGemini  # noqa: E402 - path set up above
from gemini_harness import GEMINI_VERSION, chats, gemini_bin, gemini_env, gemini_home, install_hooks, run_gemini  # noqa: E402

BASE = Path("/tmp/claudetracing-gemini-fixture")
FIXTURES = Path(__file__).resolve().parent / "fixtures" / f"gemini-{GEMINI_VERSION}"
SHELL = "Check the repository.\nRUN: git status --short --branch\nRUN: ls /nonexistent-ct-dir; exit 3\nWRITE: notes.txt"
RUNS = {
    "shell": [(SHELL, False, "gemini-2.5-flash")],
    "resume": [(SHELL, False, "gemini-2.5-flash"), ("What does the README say?\nRUN: cat README.md", True,
                                                    "gemini-2.5-flash"),
               ("Thanks. Anything else?", True, "gemini-2.5-pro")],
}


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    for args in (["init", "-q", "-b", "main"], ["add", "README.md"], ["commit", "-q", "-m", "Initial commit"]):
        if args[0] == "add":
            (path / "README.md").write_text("# widgets\n")
        subprocess.run(["git", "-c", "user.name=Fixture Bot", "-c", "user.email=bot@example.com", *args], cwd=path,
                       check=True, capture_output=True)
    return path


def record(name: str) -> None:
    where = BASE / name
    shutil.rmtree(where, ignore_errors=True)
    repo = make_repo(where / "widgets")
    home = gemini_home(where / "home")
    hooks = where / "hooks.jsonl"
    install_hooks(home, hooks)
    out = FIXTURES / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    with FakeGemini() as api:
        env = gemini_env(home, api.url)
        for n, (prompt, resume, model) in enumerate(RUNS[name], 1):
            run = run_gemini(repo, prompt, env, resume=resume, model=model)
            if run.returncode != 0:
                raise SystemExit(f"{name} run {n}: exit {run.returncode}\n{run.stderr[-2000:]}")
            (out / f"stats-{n}.json").write_text(run.stdout)
    for chat in chats(home):
        shutil.copy(chat, out / chat.name)
    shutil.copy(hooks, out / "hooks.jsonl")
    for path in sorted(out.iterdir()):
        print(f"{path.relative_to(FIXTURES)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    if gemini_bin() is None:
        raise SystemExit("gemini not found: run `make gemini`")
    for name in sys.argv[1:] or list(RUNS):
        record(name)
