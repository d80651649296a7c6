"""Re-record the real Claude Code transcripts and hook payloads under tests/fixtures/.

    python tests/record_fixtures.py [NAME...]  # needs the claude binary (see claude_harness)

Runs the real binary offline against tests/fakeapi.py in a throwaway HOME and git repo,
with Stop / SubagentStop / SessionEnd command hooks that save their stdin, then copies
what Claude Code wrote to tests/fixtures/cc-<version>/<name>/:

    <session>.jsonl                         the main transcript
    <session>/subagents/agent-*.jsonl       subagent transcripts (+ agent-*.meta.json)
    hooks.jsonl                             one line per hook call, in call order:
                                            {"event", "stdin" (the parsed payload),
                                             "env" (CLAUDE_* / OTEL_* seen by the hook),
                                             "transcript_lines" (lines in the transcript
                                             when the hook ran)}
    result-<n>.json                         `claude -p --output-format json` stdout per run

Fixtures:
    main    scenario main: Write, Edit, foreground Agent, background Agent, failing Bash,
            then the background agent's <task-notification> turn.
    resume  the same session after `--resume` with scenario resume (Read + answer).
    secret  a separate session that runs `cat .env` holding fake AWS / GitHub secrets.
    midturn scenario main again (new session), but the background agent finishes while the
            turn still runs: its notification is folded into that turn (no user line).
    stophook scenario plain, with a Stop hook of the user's that exits 2 once: Claude Code
            sends its stderr back (a user line with isMeta) and the turn goes on.
    interactive  an interactive session in tmux (tests/tty_harness.py): a plain prompt, a slow
            one interrupted with Escape, a plain one, `/clear`, a plain one, `/exit`: two
            session files, the second opening with the `/clear` command lines.
    compact an interactive session: a plain prompt, `/compact`, a plain prompt, `/exit`. The
            compaction request (fake API kind "compact") has no assistant line of its own.
    fork    `claude -p` (session S), `claude -p --resume S`, then `claude -p --resume S
            --fork-session` (a new session F that starts with a copy of S): both files.
    slash   a custom slash command (.claude/commands/ctplain.md, body with a CT-SCENARIO
            plain marker and $ARGUMENTS) run as `claude -p "/ctplain some args"`.

The temp HOME and repo live at a FIXED path (BASE below) so absolute paths inside the
fixtures are the same on every re-record; nothing is rewritten after the fact (rewriting
would break the content hashes Claude Code stores next to the text).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.claude_harness import (  # noqa: E402 - path set up above
    CLAUDE_VERSION,
    claude_bin,
    claude_env,
    project_dir,
    run_claude,
)
from tests.fakeapi import ENV_FILE_TEXT, FakeAnthropic  # noqa: E402

BASE = Path("/tmp/claudetracing-fixture")
FIXTURES = Path(__file__).resolve().parent / "fixtures" / f"cc-{CLAUDE_VERSION}"
MAX_FILE_BYTES = 300_000  # keep fixtures reviewable; reported, not enforced

PROMPTS = {
    "main": "CT-SCENARIO main\nCreate notes.txt, edit it, check it with a foreground agent, "
            "run an echo in a background agent, then run a command that fails.",
    "resume": "CT-SCENARIO resume\nWhat does notes.txt say now?",
    "secret": "CT-SCENARIO secret\nShow me what is in .env.",
}

# The hook: saves stdin plus a little context, one file per call (names sort in call
# order). Written as a script so the settings stay one readable command per event.
HOOK_SCRIPT = textwrap.dedent("""\
    import json, os, sys, time
    event, out_dir = sys.argv[1], sys.argv[2]
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
    # Which variables hooks see matters (CLAUDE_PROJECT_DIR, no OTEL_*); values of
    # per-process tokens do not, and are not worth committing.
    env = {k: "<redacted>" if "TOKEN" in k or "KEY" in k else v
           for k, v in os.environ.items() if k.startswith(("CLAUDE", "OTEL_"))}
    record = {"event": event, "stdin": payload, "env": env, "transcript_lines": lines}
    name = "%020d-%s.json" % (time.time_ns(), event)
    with open(os.path.join(out_dir, name), "w") as f:
        json.dump(record, f)
""")


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=Fixture Bot", "-c", "user.email=bot@example.com",
                    *args], cwd=repo, check=True, capture_output=True)


def make_repo(repo: Path, hook_dir: Path) -> None:
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("# widgets\n")
    hook = hook_dir.parent / "capture_hook.py"
    hook.write_text(HOOK_SCRIPT)
    # Plain `python3` (not sys.executable) keeps the recorded hook command, which Claude Code
    # copies into stop_hook_summary lines, the same on every machine.
    command = f"python3 {hook} {{event}} {hook_dir}"
    settings = {"hooks": {
        event: [{"hooks": [{"type": "command", "command": command.format(event=event)}]}]
        for event in ("Stop", "SubagentStop", "SessionEnd")}}
    (repo / ".claude").mkdir()
    (repo / ".claude" / "settings.json").write_text(json.dumps(settings, indent=2) + "\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Initial commit")
    git(repo, "remote", "add", "origin", "git@github.com:acme/widgets.git")


def collect_hooks(hook_dir: Path) -> list[dict]:
    """Hook records so far, oldest first; the directory is emptied for the next run."""
    records = []
    for f in sorted(hook_dir.iterdir()):
        records.append(json.loads(f.read_text()))
        f.unlink()
    return records


def save(name: str, home: Path, repo: Path, session: str | list[str], hooks: list[dict],
         results: list[str]) -> None:
    dest = FIXTURES / name
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    src = project_dir(home, repo)
    for one in [session] if isinstance(session, str) else session:
        shutil.copy2(src / f"{one}.jsonl", dest / f"{one}.jsonl")
        if (src / one).is_dir():
            shutil.copytree(src / one, dest / one)
    with open(dest / "hooks.jsonl", "w") as f:
        for record in hooks:
            f.write(json.dumps(record) + "\n")
    for n, stdout in enumerate(results, start=1):
        (dest / f"result-{n}.json").write_text(stdout)


def run(repo: Path, prompt: str, env: dict, resume: str | None = None) -> tuple[str, str]:
    rc, session, out, err = run_claude(repo, prompt, env, resume=resume, timeout=300)
    if rc != 0 or not session:
        raise SystemExit(f"claude failed (rc={rc}):\n{out}\n{err}")
    return session, out


def record_stophook(home: Path, repo: Path, hook_dir: Path) -> None:
    flag = BASE / "asked-once"
    insist = BASE / "insist.sh"
    insist.write_text(f"#!/bin/sh\ncat >/dev/null\n[ -e {flag} ] && exit 0\ntouch {flag}\n"
                      "echo 'CT-HOOK-FEEDBACK: please check once more' >&2\nexit 2\n")
    insist.chmod(0o755)
    settings_path = repo / ".claude" / "settings.json"
    plain = settings_path.read_text()
    settings = json.loads(plain)
    settings["hooks"]["Stop"].append({"hooks": [{"type": "command", "command": str(insist)}]})
    settings_path.write_text(json.dumps(settings, indent=2) + "\n")
    try:
        with FakeAnthropic() as api:
            session, out = run(repo, "CT-SCENARIO plain\nAnswer, then answer the stop hook.", claude_env(home, api.url))
        save("stophook", home, repo, session, collect_hooks(hook_dir), [out])
    finally:
        settings_path.write_text(plain)


def record_interactive(home: Path, repo: Path, hook_dir: Path) -> None:
    from tests.tty_harness import InteractiveClaude
    with FakeAnthropic(cwd=str(repo)) as api, InteractiveClaude(repo, claude_env(home, api.url)) as claude:
        claude.send_prompt("CT-SCENARIO plain: first")
        claude.send_prompt("CT-SCENARIO slow: run the long command", wait=False)
        claude.wait_for_screen("to run in background")
        claude.press_escape()
        claude.send_prompt("CT-SCENARIO plain: after the interrupt")
        claude.slash("/clear")
        claude.send_prompt("CT-SCENARIO plain: after clear")
        sessions = claude.exit()
    save("interactive", home, repo, sessions, collect_hooks(hook_dir), [])


def _print_responses(name: str, api) -> None:
    """What the fake API answered (kind, step, id): usage is fakeapi.usage_for(kind, step)."""
    for r in api.responses:
        print(f"{name}: {r['kind']} {r['step']} {r['id']}")


def record_compact(home: Path, repo: Path, hook_dir: Path) -> None:
    from tests.tty_harness import InteractiveClaude
    # Compaction makes Claude Code write the tool schemas (prompt_snapshot, api-request-shape)
    # again; leaving out two large tools nobody uses here keeps the file under MAX_FILE_BYTES.
    args = ("--dangerously-skip-permissions", "--disallowedTools", "Workflow,ScheduleWakeup")
    with FakeAnthropic(cwd=str(repo)) as api, \
            InteractiveClaude(repo, claude_env(home, api.url), args=args) as claude:
        claude.send_prompt("CT-SCENARIO plain: before compact")
        claude.slash("/compact")
        claude.send_prompt("CT-SCENARIO plain: after compact")
        sessions = claude.exit()
    _print_responses("compact", api)
    save("compact", home, repo, sessions, collect_hooks(hook_dir), [])


def record_fork(home: Path, repo: Path, hook_dir: Path) -> None:
    with FakeAnthropic(cwd=str(repo)) as api:
        env = claude_env(home, api.url)
        session, out1 = run(repo, "CT-SCENARIO plain\nFork test: first prompt.", env)
        resumed, out2 = run(repo, "CT-SCENARIO plain\nFork test: second prompt, resumed.", env,
                            resume=session)
        assert resumed == session, (resumed, session)
        rc, forked, out3, err = run_claude(repo, "CT-SCENARIO plain\nFork test: third prompt, forked.",
                                           env, resume=session, timeout=300,
                                           extra_args=["--fork-session"])
        if rc != 0 or not forked:
            raise SystemExit(f"claude --fork-session failed (rc={rc}):\n{out3}\n{err}")
        assert forked != session, forked
    _print_responses("fork", api)
    save("fork", home, repo, [session, forked], collect_hooks(hook_dir), [out1, out2, out3])


SLASH_COMMAND = "ctplain"
SLASH_COMMAND_TEXT = textwrap.dedent("""\
    ---
    description: Answer plainly (fixture command)
    ---
    CT-SCENARIO plain
    Answer plainly about: $ARGUMENTS
""")


def record_slash(home: Path, repo: Path, hook_dir: Path) -> None:
    command = repo / ".claude" / "commands" / f"{SLASH_COMMAND}.md"
    command.parent.mkdir(exist_ok=True)
    command.write_text(SLASH_COMMAND_TEXT)
    try:
        with FakeAnthropic(cwd=str(repo)) as api:
            session, out = run(repo, f"/{SLASH_COMMAND} some args", claude_env(home, api.url))
        _print_responses("slash", api)
        save("slash", home, repo, session, collect_hooks(hook_dir), [out])
    finally:
        shutil.rmtree(command.parent)


RECORDINGS = ("main", "resume", "secret", "midturn", "stophook", "interactive",
              "compact", "fork", "slash")


def main(names: list[str]) -> int:
    if claude_bin() is None:
        print("claude binary not found; set CLAUDE_BIN", file=sys.stderr)
        return 1
    names = names or list(RECORDINGS)
    if set(names) - set(RECORDINGS):
        print(f"unknown: {sorted(set(names) - set(RECORDINGS))}; known: {', '.join(RECORDINGS)}", file=sys.stderr)
        return 2
    if BASE.exists():
        shutil.rmtree(BASE)
    home, repo, hook_dir = BASE / "home", BASE / "widgets", BASE / "hooks"
    hook_dir.mkdir(parents=True)
    make_repo(repo, hook_dir)
    if "stophook" in names:
        record_stophook(home, repo, hook_dir)
    if "interactive" in names:
        record_interactive(home, repo, hook_dir)
    for name, record in (("compact", record_compact), ("fork", record_fork),
                         ("slash", record_slash)):
        if name in names:
            record(home, repo, hook_dir)
    if not set(names) & {"main", "resume", "secret", "midturn"}:
        report_sizes()
        return 0

    # after-turn: the background agent answers only after the main turn ended, so its
    # <task-notification> always arrives as a turn of its own (as it usually does live).
    with FakeAnthropic(bg_timing="after-turn") as api:
        env = claude_env(home, api.url)

        session, out1 = run(repo, PROMPTS["main"], env)
        hooks = collect_hooks(hook_dir)
        save("main", home, repo, session, hooks, [out1])

        resumed, out2 = run(repo, PROMPTS["resume"], env, resume=session)
        assert resumed == session, (resumed, session)
        save("resume", home, repo, session, hooks + collect_hooks(hook_dir), [out1, out2])

        (repo / ".env").write_text(ENV_FILE_TEXT)
        secret, out3 = run(repo, PROMPTS["secret"], env)
        save("secret", home, repo, secret, collect_hooks(hook_dir), [out3])
        print(f"{len(api.requests)} API requests, {len(api.responses)} responses")

    # The same scenario with the background agent finishing while the turn still runs.
    with FakeAnthropic(bg_timing="mid-turn") as api:
        env = claude_env(home, api.url)
        midturn, out4 = run(repo, PROMPTS["main"], env)
        save("midturn", home, repo, midturn, collect_hooks(hook_dir), [out4])

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
