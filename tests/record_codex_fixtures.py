"""Re-record the real Codex CLI rollouts and hook payloads under tests/fixtures/codex-<version>/.

    python tests/record_codex_fixtures.py [NAME...]  # needs the codex binary (`make codex`)

Runs the real binary offline against tests/fake_openai.py in a throwaway CODEX_HOME and git
repo, with Stop / SubagentStart / SubagentStop / SessionEnd command hooks that append their
stdin to a file (run with --dangerously-bypass-hook-trust), then copies what Codex wrote to
tests/fixtures/codex-<version>/<name>/:

    rollout-<time>-<session>.jsonl   the session's rollout (a subagent's is a file of its own)
    hooks.jsonl                      one line per hook call, in call order: {"event", "stdin"
                                     (the parsed payload), "env" (CODEX_* seen by the hook),
                                     "rollout_lines" (lines in transcript_path when it ran)}
    events-<n>.jsonl                 `codex exec --json` stdout of each run

Fixtures:
    exec      one turn: two shell commands (the second fails with exit 3), then an answer.
    resume    the exec session after `codex exec resume --last` with a turn that runs
              `cat README.md`: the same file, two turns.
    subagent  one turn that spawns a subagent (spawn_agent, wait_agent); the subagent runs
              one command. Two rollouts: the parent's and the agent's.
The `older` fixture (event names of older Codex versions) is hand-written; see the README.

CODEX_HOME and the repo live at a FIXED path (BASE) so the paths inside the fixtures are the
same on every re-record; nothing is rewritten after the fact.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.codex_harness import (  # noqa: E402 - path set up above
    CODEX_VERSION,
    codex_bin,
    codex_env,
    codex_home,
    find_rollout,
    install_hooks,
    make_repo,
    read_hooks,
    rollouts,
    run_codex,
)
from tests.fake_openai import FakeOpenAI  # noqa: E402

BASE = Path("/tmp/claudetracing-codex-fixture")
FIXTURES = Path(__file__).resolve().parent / "fixtures" / f"codex-{CODEX_VERSION}"
HOOK_EVENTS = ("Stop", "SubagentStart", "SubagentStop", "SessionEnd")
MAX_FILE_BYTES = 60_000  # keep fixtures reviewable; reported, not enforced

PROMPTS = {
    "exec": "Check the repository.\nRUN: git status --short --branch\nRUN: ls /nonexistent-ct-dir; exit 3",
    "resume": "What does the README say?\nRUN: cat README.md",
    "subagent": "Delegate a check to a subagent.\nSPAWN: RUN: echo hello from the subagent",
}


def save(name: str, files: list[Path], hooks_file: Path, runs: list) -> None:
    dest = FIXTURES / name
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for f in files:
        shutil.copy2(f, dest / f.name)
    shutil.copy2(hooks_file, dest / "hooks.jsonl")
    for n, run in enumerate(runs, start=1):
        (dest / f"events-{n}.jsonl").write_text(run.stdout)


def run(repo: Path, prompt: str, env: dict, resume: str | None = None):
    result = run_codex(repo, prompt, env, resume=resume, trust_hooks=True, timeout=180)
    if result.returncode != 0 or not result.session_id:
        raise SystemExit(f"codex failed (rc={result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def fresh(name: str) -> tuple[Path, Path, Path]:
    """A new CODEX_HOME, repo and hook file for one recording."""
    root = BASE / name
    return root / "codex-home", make_repo(root / "widgets"), root / "hooks.jsonl"


def record_exec_resume(names: set[str]) -> None:
    home_dir, repo, hooks_file = fresh("exec")
    with FakeOpenAI() as api:
        home = codex_home(home_dir, api.url)
        install_hooks(home, hooks_file, events=HOOK_EVENTS)
        env = codex_env(home)
        first = run(repo, PROMPTS["exec"], env)
        rollout = find_rollout(home, first.session_id)
        save("exec", [rollout], hooks_file, [first])
        if "resume" in names:
            second = run(repo, PROMPTS["resume"], env, resume="last")
            assert second.session_id == first.session_id, (second.session_id, first.session_id)
            save("resume", [rollout], hooks_file, [first, second])
        _print_responses("exec/resume", api)


def record_subagent() -> None:
    home_dir, repo, hooks_file = fresh("subagent")
    with FakeOpenAI() as api:
        home = codex_home(home_dir, api.url)
        install_hooks(home, hooks_file, events=HOOK_EVENTS)
        first = run(repo, PROMPTS["subagent"], codex_env(home))
        files = rollouts(home)
        if len(files) != 2:
            raise SystemExit(f"expected the parent's and the agent's rollout, got {files}")
        if not any(h["event"] == "SubagentStop" for h in read_hooks(hooks_file)):
            raise SystemExit("no SubagentStop hook call recorded")
        save("subagent", files, hooks_file, [first])
        _print_responses("subagent", api)


def _print_responses(name: str, api: FakeOpenAI) -> None:
    for r in api.responses:
        print(f"{name}: {r['id']} {r['kind']} step {r['step']} usage {r['usage']}")


RECORDINGS = ("exec", "resume", "subagent")


def main(names: list[str]) -> int:
    if codex_bin() is None:
        print("codex binary not found: run `make codex` or set CODEX_BIN", file=sys.stderr)
        return 1
    wanted = set(names or RECORDINGS)
    if wanted - set(RECORDINGS):
        print(f"unknown: {sorted(wanted - set(RECORDINGS))}; known: {', '.join(RECORDINGS)}",
              file=sys.stderr)
        return 2
    if BASE.exists():
        shutil.rmtree(BASE)
    if wanted & {"exec", "resume"}:
        record_exec_resume(wanted)
    if "subagent" in wanted:
        record_subagent()
    report_sizes()
    return 0


def report_sizes() -> None:
    for path in sorted(FIXTURES.rglob("*")):
        if path.is_file():
            size = path.stat().st_size
            flag = "  <-- over limit" if size > MAX_FILE_BYTES else ""
            print(f"{size:>9,}  {path.relative_to(FIXTURES)}{flag}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
