"""Drive the real Claude Code binary interactively, in a tmux pane, for end-to-end tests
(stdlib only; needs tmux).

Most people run Claude Code interactively, where things happen that `claude -p` never shows:
several prompts in one process, `/clear` starting a new session, Escape interrupting a turn.

    from fakeapi import FakeAnthropic          # tests/ is on sys.path (conftest.py)
    from claude_harness import claude_env
    from tty_harness import InteractiveClaude

    with FakeAnthropic() as api, InteractiveClaude(repo, claude_env(home, api.url)) as claude:
        claude.send_prompt("CT-SCENARIO plain: hello")   # returns once Claude is idle again
        claude.slash("/clear")
        claude.send_prompt("CT-SCENARIO plain: again")
        claude.exit()                                     # /exit: SessionEnd hooks run
        claude.session_ids()                              # two sessions, oldest first

How it knows what Claude is doing: the transcript files under
`~/.claude/projects/<cwd mangled>/` say what happened (a turn ends with a `system` line of
subtype `turn_duration`; an interrupt writes `[Request interrupted by user...]`), and the
screen says whether the input box is ready (no "esc to interrupt" in the footer). Both must
agree before a method returns. Every wait has a timeout whose message shows the screen.

The tmux server runs on its own socket (`tmux -L <unique name>`), so it never touches the
developer's tmux, and is killed on close.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Callable

from claude_harness import claude_bin, project_dir

TMUX = shutil.which("tmux") or "/usr/bin/tmux"
WIDTH, HEIGHT = 160, 50
POLL = 0.2

# Screen texts of Claude Code 2.1.330.
BUSY_MARK = "esc to interrupt"                          # footer while a turn runs
INPUT_BOX = re.compile(r"^─{20,}\n❯ ?(.*)$", re.MULTILINE)  # the input line, under a rule
INTERRUPT_MARK = "[Request interrupted by user"         # transcript text after Escape

# First-run questions and the keys that accept them. ~/.claude.json is pre-filled so none
# should appear (see _preapprove); answering them too keeps the harness working if a new
# version ignores one of the flags. The default choice is always the cautious one.
FIRST_RUN_DIALOGS = {
    "Yes, I trust this folder": ["Down", "Enter"],      # trust: "No, exit" is preselected
    "Do you want to use this API key?": ["Up", "Enter"],  # "No (recommended)" is preselected
    "Yes, I accept": ["Down", "Enter"],                 # bypass permissions: "No, exit" first
}


def have_tmux() -> bool:
    return os.access(TMUX, os.X_OK)


class InteractiveClaude:
    """One interactive `claude` process in a detached tmux pane, working in `cwd`.

    env: from claude_harness.claude_env(home, api_url); its HOME holds ~/.claude.json and the
    transcripts. args: extra command-line arguments (default: skip permission prompts).
    """

    def __init__(self, cwd: str | os.PathLike, env: dict[str, str],
                 args: tuple[str, ...] = ("--dangerously-skip-permissions",),
                 timeout: float = 60) -> None:
        binary = claude_bin()
        if binary is None:
            raise RuntimeError("claude binary not found (set CLAUDE_BIN)")
        self.cwd = os.path.realpath(str(cwd))
        self.home = Path(env["HOME"])
        # claude_env says TERM=dumb, right for -p. tmux gives the pane a TERM of its own
        # (tmux-256color, its default-terminal); tmux itself gets a real one too.
        self.env = {**env, "TERM": "xterm-256color"}
        self.command = [binary, *args]
        self.timeout = timeout
        self.socket = f"ct-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._socket_path = ""  # tmux leaves the socket file behind: close() removes it
        self.project = project_dir(self.home, self.cwd)
        # A session file that already exists (claude --continue) is ours once it grows.
        self._start_size = {path: path.stat().st_size for path in self._transcripts()}
        self._sessions: list[Path] = []     # transcript files this process wrote, in order
        self._mark: dict[Path, int] = {}    # file sizes when the current action started

    # ----------------------------------------------------------------- lifecycle

    def __enter__(self) -> "InteractiveClaude":
        try:
            self.start()
        except BaseException:
            self.close()  # __exit__ does not run when __enter__ fails
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Launch claude and return when its input box is ready."""
        self._preapprove()
        # remain-on-exit keeps the pane (and its last screen) after claude exits, so exit()
        # can see it happen and a failure message can still show the screen. Without
        # focus-events Claude Code puts a hint about them on the screen.
        self._tmux("new-session", "-d", "-s", "main", "-x", str(WIDTH), "-y", str(HEIGHT),
                   "-c", self.cwd, "--", *self.command,
                   ";", "set-option", "-g", "remain-on-exit", "on",
                   ";", "set-option", "-g", "focus-events", "on")
        self._socket_path = self._display("#{socket_path}")
        deadline = time.time() + self.timeout
        while time.time() < deadline:
            screen = self.screen()
            answer = next((keys for text, keys in FIRST_RUN_DIALOGS.items() if text in screen), None)
            if answer:
                self.send_keys(*answer)
                time.sleep(1)  # let the dialog close before looking again
            elif self._idle(screen):
                return
            elif self._exited():
                break
            time.sleep(POLL)
        raise AssertionError(f"claude did not reach its input box\n{self._describe()}")

    def close(self) -> None:
        """Kill the tmux server (and claude with it, if still running). Safe to call twice."""
        subprocess.run([TMUX, "-L", self.socket, "kill-server"], env=self.env,
                       capture_output=True, timeout=10)
        if self._socket_path:
            Path(self._socket_path).unlink(missing_ok=True)

    def exit(self, timeout: float | None = None) -> list[str]:
        """Type /exit and wait until claude has exited (its SessionEnd hooks ran before that).

        Returns session_ids().
        """
        self._scan()  # notice a session whose file appeared since the last action
        self._type("/exit")
        self.send_keys("Enter")
        self._wait(self._exited, "claude to exit after /exit", timeout)
        return self.session_ids()

    # ----------------------------------------------------------------- actions

    def send_prompt(self, text: str, wait: bool = True, timeout: float | None = None) -> None:
        """Type a prompt, press Enter and (by default) wait until the turn is over."""
        if "\n" in text:
            raise ValueError("one line only: Enter would submit the first line")
        self._begin()
        self._type(text)
        self.send_keys("Enter")
        self.wait_for_line(lambda line: _user_text(line) == text, f"the prompt {text!r}", timeout)
        if wait:
            self.wait_idle(timeout)

    def slash(self, command: str, timeout: float | None = None) -> None:
        """Run a slash command such as "/clear" or "/compact" and wait until it is done.

        Claude Code records a finished local command as a user line holding
        <command-name>/clear</command-name> (in the new session's file for /clear).
        """
        name = command.split()[0]
        self._begin()
        self._type(command)
        self.send_keys("Enter")
        marker = f"<command-name>{name}</command-name>"
        self.wait_for_line(lambda line: marker in (_user_text(line) or ""), command, timeout)
        self._wait(lambda: self._idle(self.screen()), f"the input box after {command}", timeout)

    def press_escape(self, timeout: float | None = None) -> None:
        """Press Escape during a running turn and wait until Claude records the interrupt.

        Only for a busy Claude: at an idle input box, Escape twice opens the rewind menu.
        """
        self._begin()
        self.send_keys("Escape")
        self.wait_for_line(lambda line: (_user_text(line) or "").startswith(INTERRUPT_MARK),
                           "the interrupt marker", timeout)
        self._wait(lambda: self._idle(self.screen()), "the input box after Escape", timeout)

    def send_keys(self, *keys: str) -> None:
        """tmux key names: "Enter", "Escape", "C-c", "Up", ..."""
        self._tmux("send-keys", "-t", "main", *keys)

    # ----------------------------------------------------------------- observing

    def screen(self) -> str:
        """The visible screen as text (empty once tmux is gone)."""
        proc = subprocess.run([TMUX, "-L", self.socket, "capture-pane", "-p", "-t", "main"],
                              env=self.env, capture_output=True, text=True, timeout=10)
        return proc.stdout

    def session_ids(self) -> list[str]:
        """Ids of the sessions this process wrote (new transcript files, or a resumed one that
        grew), in the order they appeared."""
        self._scan()
        return [path.stem for path in self._sessions]

    def wait_for_screen(self, text: str, timeout: float | None = None) -> None:
        """Wait until text is on the screen (e.g. a running tool's hint, before an Escape)."""
        self._wait(lambda: text in self.screen(), f"{text!r} on the screen", timeout)

    def wait_idle(self, timeout: float | None = None) -> None:
        """Wait until the turn under way has ended in the transcript and the input box is back."""
        self.wait_for_line(_turn_ended, "the end of the turn", timeout)
        self._wait(lambda: self._idle(self.screen()), "the input box", timeout)

    def wait_for_line(self, predicate: Callable[[dict], bool], what: str,
                      timeout: float | None = None) -> dict:
        """Wait for a transcript line, written since the current action began, that matches."""
        found: list[dict] = []

        def seen() -> bool:
            found[:] = [line for line in self._new_lines() if predicate(line)][:1]
            return bool(found)

        self._wait(seen, what, timeout)
        return found[0]

    # ----------------------------------------------------------------- internals

    def _preapprove(self) -> None:
        """Answer the first-run questions in ~/.claude.json, as a returning user would have.

        claude_harness.prepare_home already set onboarding and bypass-mode acceptance; an
        interactive run also asks whether to use ANTHROPIC_API_KEY (Claude Code remembers the
        key's last 20 characters) and whether to trust the folder (per project, real path).
        """
        config = self.home / ".claude.json"
        data = json.loads(config.read_text()) if config.exists() else {}
        key = self.env.get("ANTHROPIC_API_KEY")
        if key:
            approved = data.setdefault("customApiKeyResponses", {}).setdefault("approved", [])
            if key[-20:] not in approved:
                approved.append(key[-20:])
        data.setdefault("projects", {}).setdefault(self.cwd, {})["hasTrustDialogAccepted"] = True
        config.write_text(json.dumps(data, indent=2))

    def _tmux(self, *args: str) -> None:
        subprocess.run([TMUX, "-L", self.socket, "-f", "/dev/null", *args], env=self.env,
                       check=True, capture_output=True, timeout=10)

    def _type(self, text: str) -> None:
        """Type text literally, then wait until it shows in the input box.

        Pressing Enter before the UI has taken the keys in would submit a partial prompt, and
        for a slash command the completion menu must have caught up with the name.
        """
        self._tmux("send-keys", "-t", "main", "-l", "--", text)
        head = text[:40]
        self._wait(lambda: any(head in typed for typed in INPUT_BOX.findall(self.screen())),
                   f"{head!r} in the input box", None)
        time.sleep(0.3)  # the slash-command menu filters a moment after the text shows

    def _idle(self, screen: str) -> bool:
        return bool(INPUT_BOX.search(screen)) and BUSY_MARK not in screen

    def _exited(self) -> bool:
        return self._display("#{pane_dead}") in ("1", "")  # "" once tmux itself is gone

    def _display(self, fmt: str) -> str:
        proc = subprocess.run([TMUX, "-L", self.socket, "display-message", "-p", "-t", "main", fmt],
                              env=self.env, capture_output=True, text=True, timeout=10)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    def _begin(self) -> None:
        """Remember how far every transcript is written: what follows is this action's."""
        self._scan()
        self._mark = {path: path.stat().st_size for path in self._transcripts()}

    def _transcripts(self) -> list[Path]:
        if not self.project.exists():
            return []
        return sorted(self.project.glob("*.jsonl"), key=lambda p: p.stat().st_mtime)

    def _scan(self) -> None:
        for path in self._transcripts():
            grew = path.stat().st_size > self._start_size.get(path, -1)
            if grew and path not in self._sessions:
                self._sessions.append(path)

    def _new_lines(self) -> list[dict]:
        self._scan()
        lines = []
        for path in self._sessions:
            start = self._mark.get(path, self._start_size.get(path, 0))
            for raw in _complete_lines(path, start):
                try:
                    lines.append(json.loads(raw))
                except ValueError:
                    pass  # the tail of a line that was half written when the action began
        return lines

    def _wait(self, condition: Callable[[], bool], what: str, timeout: float | None) -> None:
        deadline = time.time() + (timeout or self.timeout)
        while time.time() < deadline:
            if condition():
                return
            time.sleep(POLL)
        raise AssertionError(f"timed out waiting for {what}\n{self._describe()}")

    def _describe(self) -> str:
        screen = "\n".join(line for line in self.screen().splitlines() if line.strip())
        return (f"sessions: {[p.stem for p in self._sessions]}\n"
                f"----- screen (blank lines left out) -----\n{screen}\n-----")


def _complete_lines(path: Path, offset: int) -> list[str]:
    """Lines from offset on, without a last line still being written."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return []
    return [raw.decode() for raw in data.split(b"\n")[:-1] if raw.strip()]


def _user_text(line: dict) -> str | None:
    """The text a user line carries (a prompt, a command wrapper, an interrupt marker)."""
    if line.get("type") != "user":
        return None
    content = (line.get("message") or {}).get("content")
    if isinstance(content, str):
        return content
    texts = [b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text"]
    return "\n".join(texts) if texts else None


def _turn_ended(line: dict) -> bool:
    """Claude Code 2.1.330 closes every finished turn with a `turn_duration` system line; an
    interrupted one ends with the interrupt marker instead."""
    if line.get("type") == "system" and line.get("subtype") == "turn_duration":
        return True
    return (_user_text(line) or "").startswith(INTERRUPT_MARK)
