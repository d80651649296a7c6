"""A stand-in for the Anthropic Messages API, good enough to drive the real Claude Code
binary offline (stdlib only).

    with FakeAnthropic() as api:
        env = claude_env(home, api.url)
        ...
        api.requests   # every request received: {"method", "path", "headers", "json"}
        api.responses  # every /v1/messages answer: {"id", "model", "usage", "scenario", "step", ...}

The replies are RULE-BASED rather than scripted as one global sequence: Claude Code runs
subagents concurrently and makes side requests (titles, topic detection, ...) at times we do
not control, so each reply is derived only from the request's own conversation:

* The current turn starts at the last user message whose text holds a marker
  ``CT-SCENARIO <name>`` (a user prompt) or ``CT-SUBAGENT <name>`` (a subagent's launch
  prompt). Taking the *last* marker makes ``--resume`` work: a resumed conversation still
  starts with the first turn's prompt.
* The scenario is a list of steps; each step is one API response (text and/or tool_use
  blocks). The next step is the first one whose tool_use ids are not all answered by
  ``tool_result`` blocks after the turn's prompt. Tool-use ids are fixed per step, so this
  is stable whatever else the conversation contains.
* A conversation whose last user message is a ``<task-notification>`` (a background agent
  finished) and holds no tool_result gets a short acknowledgement.
* A compaction request (``/compact``: its last user message asks for "a detailed summary of
  the conversation so far") gets an <analysis>/<summary> reply of kind ``compact``.
* Requests without tools, or without any marker, are side requests: a short plain text.

Usage is deterministic per (scenario, step) so token and cost sums can be checked; see
``usage_for``. ``usage_override`` replaces it for every response (used to measure Claude
Code's price table by returning e.g. 1,000,000 tokens of one kind).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

SCENARIO_RE = re.compile(r"CT-SCENARIO\s+([A-Za-z0-9_-]+)")
SUBAGENT_RE = re.compile(r"CT-SUBAGENT\s+([A-Za-z0-9_-]+)")
# Claude Code tells the model its cwd in an environment block; tools need absolute paths.
CWD_RE = re.compile(r"Primary working directory: ([^\n\\\"]+)")

# Strings the scenarios plant, exported so tests can look for them.
NOTES_INITIAL = "alpha\nbeta\n"
NOTES_EDITED = "alpha\ngamma\n"
BG_ECHO = "hello from the background agent"
# Fake secrets for redaction tests. They look real to pattern-based scanners but are not.
SECRET_AWS = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SECRET_GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
ENV_FILE_TEXT = (
    "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n"
    f"AWS_SECRET_ACCESS_KEY={SECRET_AWS}\n"
    f"GITHUB_TOKEN={SECRET_GITHUB}\n"
)

Block = dict[str, Any]


# --------------------------------------------------------------------------- scenarios


def _text(text: str) -> Block:
    return {"type": "text", "text": text}


def _tool(tool_id: str, name: str, **inputs: Any) -> Block:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": inputs}


def _main_steps(cwd: str) -> list[list[Block]]:
    notes = f"{cwd}/notes.txt"
    return [
        # Text + tool_use in one response: Claude Code writes one `assistant` line per block,
        # all with the same message.id (the case the tracer must count once).
        [_text("I'll create notes.txt first."),
         _tool("toolu_ct_main_01_write", "Write", file_path=notes, content=NOTES_INITIAL)],
        [_tool("toolu_ct_main_02_edit", "Edit", file_path=notes,
               old_string="beta", new_string="gamma")],
        [_text("Now a foreground agent will check the file."),
         _tool("toolu_ct_main_03_agent_fg", "Agent", description="Check notes file",
               prompt=f"CT-SUBAGENT fg\nRead {notes} and report its first line.",
               subagent_type="general-purpose", run_in_background=False)],
        [_tool("toolu_ct_main_04_agent_bg", "Agent", description="Echo in background",
               prompt="CT-SUBAGENT bg\nRun an echo command and report its output.",
               subagent_type="general-purpose", run_in_background=True)],
        # A failing tool call: the tool_result comes back with is_error: true.
        [_tool("toolu_ct_main_05_bash_fail", "Bash", command="ls /nonexistent-ct-dir; exit 3",
               description="List a missing directory")],
        [_text("Done: notes.txt was written and edited, one agent read it, another is "
               "echoing in the background, and the failing command exited with 3.")],
    ]


def _resume_steps(cwd: str) -> list[list[Block]]:
    return [
        [_tool("toolu_ct_resume_01_read", "Read", file_path=f"{cwd}/notes.txt")],
        [_text("notes.txt now says alpha and gamma.")],
    ]


def _secret_steps(cwd: str) -> list[list[Block]]:
    return [
        [_text("Let me look at the environment file."),
         _tool("toolu_ct_secret_01_cat", "Bash", command="cat .env",
               description="Show the environment file")],
        [_text("The .env file holds AWS and GitHub credentials; keep it out of git.")],
    ]


def _userenv_steps(cwd: str) -> list[list[Block]]:
    # The user's own work in a Bash command: what it sees of the environment, and a script
    # of theirs that logs to MLflow (the test writes train.sh).
    return [
        [_tool("toolu_ct_userenv_01_train", "Bash", command="env > env-seen.txt && sh train.sh",
               description="Run the training script")],
        [_text("The training run is logged.")],
    ]


def _plain_steps(cwd: str) -> list[list[Block]]:
    return [[_text("plain answer")]]


def _shell(name: str, command: str) -> Callable[[str], list[list[Block]]]:
    # One shell call and an answer, a turn as small as a real one; each such scenario has its
    # own tool_use id, since a resumed conversation holds the ids of every turn before.
    def steps(cwd: str) -> list[list[Block]]:
        return [[_tool(f"toolu_ct_{name}_01_bash", "Bash", command=command, description="Run a command")],
                [_text(f"Ran: {command}")]]
    return steps


def _bgresume_steps(cwd: str) -> list[list[Block]]:
    # A background agent, then a slow foreground command: the turn is still running when the
    # agent reports, and its last response comes seconds after SubagentStop. (Claude Code
    # refuses a command that is only `sleep N`.)
    return [
        [_tool("toolu_ct_bgresume_01_agent", "Agent", description="Echo in background",
               prompt="CT-SUBAGENT bg\nRun an echo command and report its output.",
               subagent_type="general-purpose", run_in_background=True)],
        [_text("Step 2: using Bash."),
         _tool("toolu_ct_bgresume_02_sleep", "Bash", command="echo waiting && sleep 5",
               description="Wait a little")],
        [_text("All done: the background agent reported and the wait is over.")],
    ]


def _slow_steps(cwd: str) -> list[list[Block]]:
    # A long tool call, for a person to interrupt with Escape. (Claude Code 2.1.330 refuses a
    # Bash command that is only `sleep N` for N >= 2, so something runs before it.)
    return [
        [_text("Starting a long command."),
         _tool("toolu_ct_slow_01_sleep", "Bash", command="echo waiting && sleep 120",
               description="Sleep a long time")],
        [_text("The long command finished.")],
    ]


def _subagent_fg_steps(cwd: str) -> list[list[Block]]:
    return [
        [_tool("toolu_ct_fg_01_read", "Read", file_path=f"{cwd}/notes.txt")],
        [_text("The first line of notes.txt is: alpha")],
    ]


def _subagent_bg_steps(cwd: str) -> list[list[Block]]:
    return [
        [_tool("toolu_ct_bg_01_echo", "Bash", command=f"echo '{BG_ECHO}'",
               description="Print a greeting")],
        [_text(f"The echo printed: {BG_ECHO}")],
    ]


SCENARIOS: dict[str, Callable[[str], list[list[Block]]]] = {
    "main": _main_steps,
    "resume": _resume_steps,
    "secret": _secret_steps,
    "plain": _plain_steps,
    "bgresume": _bgresume_steps,
    "slow": _slow_steps,
    "userenv": _userenv_steps,
    "shell": _shell("shell", "git status --short"),
    "shell2": _shell("shell2", "cat README.md"),
}
SUBAGENTS: dict[str, Callable[[str], list[list[Block]]]] = {
    "fg": _subagent_fg_steps,
    "bg": _subagent_bg_steps,
}
# Index of each scenario in the usage formula, so no two (scenario, step) pairs share usage.
_USAGE_SEED = {"main": 1, "resume": 2, "secret": 3, "plain": 4,
               "sub-fg": 5, "sub-bg": 6, "notification": 7, "side": 8,
               "bgresume": 10, "slow": 11, "hook-feedback": 12, "compact": 13, "userenv": 14, "shell": 15, "shell2": 16}

# Upper bound for bg_timing holds, so a changed Claude Code cannot hang a test forever.
HOLD_TIMEOUT = 30.0
NOTIFICATION_ACK = "Noted: the background agent finished."
# A Stop hook of the test's own prints this marker and exits 2; Claude Code sends its stderr
# back as a user message and the model answers it.
HOOK_FEEDBACK_MARK = "CT-HOOK-FEEDBACK"
HOOK_FEEDBACK_ANSWER = "Continued after the stop hook asked for more."
SIDE_ANSWER = "Fake session title"
# `/compact` (and auto-compaction) asks, with the tools still attached, for "<analysis> block
# followed by a <summary> block"; Claude Code asks again when the reply has no <summary>.
COMPACT_MARK = "Your task is to create a detailed summary of the conversation so far"
COMPACT_ANSWER = ("<analysis>The user sent plain test prompts.</analysis>\n"
                  "<summary>CT-COMPACT-SUMMARY: the user sent plain test prompts and got "
                  "plain answers.</summary>")


def usage_for(kind: str, step: int) -> dict[str, Any]:
    """Deterministic, pairwise-distinct usage for one response.

    Every field differs so a tracer that swaps or double counts fields shows up in sums.
    """
    seed = _USAGE_SEED.get(kind, 9) * 10 + step
    five_m, one_h = 20 + seed, 3 + seed
    return {
        "input_tokens": 100 + seed,
        "output_tokens": 10 + seed,
        "cache_read_input_tokens": 1000 + seed,
        "cache_creation_input_tokens": five_m + one_h,
        "cache_creation": {"ephemeral_5m_input_tokens": five_m,
                           "ephemeral_1h_input_tokens": one_h},
    }


# --------------------------------------------------------------------------- conversation


def _blocks(message: dict) -> list[Block]:
    content = message.get("content")
    if isinstance(content, str):
        return [_text(content)]
    return [b for b in content or [] if isinstance(b, dict)]


def _plain_text(message: dict) -> str:
    """The text blocks of a message (not tool_result contents, which echo files and output)."""
    return "\n".join(b.get("text", "") for b in _blocks(message) if b.get("type") == "text")


def _tool_result_ids(message: dict) -> set[str]:
    return {b.get("tool_use_id", "") for b in _blocks(message) if b.get("type") == "tool_result"}


class Decision:
    """What to answer: blocks plus bookkeeping for the test's view of it."""

    def __init__(self, kind: str, step: int, blocks: list[Block], final: bool) -> None:
        self.kind, self.step, self.blocks, self.final = kind, step, blocks, final

    @property
    def stop_reason(self) -> str:
        return "tool_use" if any(b["type"] == "tool_use" for b in self.blocks) else "end_turn"


def decide(body: dict, default_cwd: str = "") -> Decision:
    """Choose the reply for one /v1/messages request from its conversation alone."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    users = [(i, m) for i, m in enumerate(messages) if m.get("role") == "user"]
    if not body.get("tools") or not users:
        return Decision("side", 0, [_text(SIDE_ANSWER)], final=True)

    last_user = users[-1][1]
    if COMPACT_MARK in _plain_text(last_user):
        return Decision("compact", 0, [_text(COMPACT_ANSWER)], final=True)
    # A background agent's completion arrives as a user message of its own; answer it briefly.
    if "<task-notification>" in _plain_text(last_user) and not _tool_result_ids(last_user):
        return Decision("notification", 0, [_text(NOTIFICATION_ACK)], final=True)

    if HOOK_FEEDBACK_MARK in json.dumps(last_user.get("content"), ensure_ascii=False):
        return Decision("hook-feedback", 0, [_text(HOOK_FEEDBACK_ANSWER)], final=True)

    # The turn starts at the last user message carrying a marker.
    kind, start, steps_fn = "", -1, None
    for i, m in reversed(users):
        text = _plain_text(m)
        sub, scen = SUBAGENT_RE.search(text), SCENARIO_RE.search(text)
        if sub and sub.group(1) in SUBAGENTS:
            kind, start, steps_fn = f"sub-{sub.group(1)}", i, SUBAGENTS[sub.group(1)]
            break
        if scen and scen.group(1) in SCENARIOS:
            kind, start, steps_fn = scen.group(1), i, SCENARIOS[scen.group(1)]
            break
    if steps_fn is None:
        return Decision("side", 0, [_text(SIDE_ANSWER)], final=True)

    match = CWD_RE.search(json.dumps(body, ensure_ascii=False).replace("\\n", "\n"))
    cwd = match.group(1).rstrip() if match else default_cwd
    answered: set[str] = set()
    for m in messages[start + 1:]:
        if m.get("role") == "user":
            answered |= _tool_result_ids(m)
    steps = steps_fn(cwd)
    for n, blocks in enumerate(steps, start=1):
        ids = {b["id"] for b in blocks if b["type"] == "tool_use"}
        if not ids <= answered or n == len(steps):
            return Decision(kind, n, blocks, final=n == len(steps))
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- HTTP server


def _sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive, as the SDK expects; every reply therefore carries a Content-Length or is
    # streamed and closed.
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet: tests read api.requests instead

    def _read_json(self) -> Any:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("request-id", f"req_ct_{next(self.server.fake._request_ids):05d}")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _handle(self) -> None:
        body = self._read_json() if self.command in ("POST", "PUT", "PATCH") else None
        fake = self.server.fake
        with fake._lock:
            fake.requests.append({"method": self.command, "path": self.path,
                                  "headers": dict(self.headers), "json": body})
        path = self.path.split("?", 1)[0]
        if self.command == "POST" and path == "/v1/messages/count_tokens":
            self._send_json(200, {"input_tokens": 1234})
        elif self.command == "POST" and path == "/v1/messages" and isinstance(body, dict):
            self._messages(body)
        elif path == "/v1/models":
            self._send_json(200, {"data": [], "has_more": False, "first_id": None,
                                  "last_id": None})
        else:
            # Probes, metrics, feature flags, ...: anything harmless, never a hang.
            self._send_json(200, {})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def _messages(self, body: dict) -> None:
        fake = self.server.fake
        decision = decide(body, fake.cwd)
        fake._hold(decision)
        usage = dict(fake.usage_override or usage_for(decision.kind, decision.step))
        message = {
            "id": f"msg_ct_{next(fake._ids):05d}_{decision.kind}_{decision.step}",
            "type": "message",
            "role": "assistant",
            # Echo what was asked for, unless the test wants the API to answer as another model.
            "model": fake.response_model or body.get("model", "claude-unknown"),
            "content": decision.blocks,
            "stop_reason": decision.stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }
        with fake._lock:
            fake.responses.append({"id": message["id"], "model": message["model"],
                                   "usage": usage, "kind": decision.kind,
                                   "step": decision.step, "final": decision.final,
                                   "stream": bool(body.get("stream"))})
        if body.get("stream"):
            self._stream(message)
        else:
            self._send_json(200, message)
        fake._sent(decision)

    def _stream(self, message: dict) -> None:
        usage = message["usage"]
        start_usage = {**usage, "output_tokens": 1}  # the real API reports 1 at start
        events = [_sse("message_start", {"type": "message_start", "message": {
            **message, "content": [], "stop_reason": None, "usage": start_usage}})]
        for index, block in enumerate(message["content"]):
            if block["type"] == "text":
                events.append(_sse("content_block_start", {
                    "type": "content_block_start", "index": index,
                    "content_block": {"type": "text", "text": ""}}))
                text = block["text"]
                for chunk in (text[: len(text) // 2], text[len(text) // 2:]):
                    events.append(_sse("content_block_delta", {
                        "type": "content_block_delta", "index": index,
                        "delta": {"type": "text_delta", "text": chunk}}))
            else:
                events.append(_sse("content_block_start", {
                    "type": "content_block_start", "index": index,
                    "content_block": {"type": "tool_use", "id": block["id"],
                                      "name": block["name"], "input": {}}}))
                raw = json.dumps(block["input"])
                for chunk in (raw[: len(raw) // 2], raw[len(raw) // 2:]):
                    events.append(_sse("content_block_delta", {
                        "type": "content_block_delta", "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": chunk}}))
            events.append(_sse("content_block_stop",
                               {"type": "content_block_stop", "index": index}))
        # message_delta carries the final, cumulative usage (as the current API does).
        events.append(_sse("message_delta", {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": usage}))
        events.append(_sse("message_stop", {"type": "message_stop"}))
        data = b"".join(events)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("request-id", f"req_ct_{next(self.server.fake._request_ids):05d}")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: "FakeAnthropic"


class FakeAnthropic:
    """Context manager running the stand-in API on a free port of 127.0.0.1.

    cwd: fallback working directory if a request does not name one.
    usage_override: usage dict returned for every response instead of ``usage_for``.
    bg_timing: when scenario main's background agent finishes, relative to the main turn
        (Claude Code records the two cases differently):
        "free"       no coordination; in practice it finishes after the turn.
        "after-turn" its final answer waits until the main turn's final answer was sent:
                     the <task-notification> becomes a user line of its own, a new turn.
        "mid-turn"   the main turn's failing-Bash step waits until the agent finished: the
                     notification is delivered inside the running turn (a queue-operation
                     enqueue/remove pair and a `queued_command` attachment, no user line).
    response_model: model name put in every response instead of echoing the request's.
    """

    def __init__(self, cwd: str = "", usage_override: dict | None = None,
                 bg_timing: str = "free", response_model: str | None = None) -> None:
        if bg_timing not in ("free", "after-turn", "mid-turn"):
            raise ValueError(f"bg_timing: {bg_timing!r}")
        self.cwd = cwd
        self.usage_override = usage_override
        self.response_model = response_model
        self.bg_timing = bg_timing
        self.requests: list[dict] = []
        self.responses: list[dict] = []
        self.main_done = threading.Event()  # main's final answer was sent
        self.bg_done = threading.Event()  # the background agent's final answer was sent
        self._ids = itertools.count(1)  # message ids
        self._request_ids = itertools.count(1)  # request-id response headers
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "use FakeAnthropic as a context manager"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _hold(self, decision: Decision) -> None:
        """Delay a reply to order the background agent against the main turn (bg_timing)."""
        if self.bg_timing == "after-turn" and decision.kind == "sub-bg" and decision.final:
            self.main_done.wait(HOLD_TIMEOUT)
            time.sleep(0.3)  # let Claude Code finish writing the main turn first
        elif self.bg_timing == "mid-turn" and decision.kind == "main" and decision.step == 5:
            self.bg_done.wait(HOLD_TIMEOUT)
            time.sleep(0.5)  # let Claude Code queue the notification before we answer

    def _sent(self, decision: Decision) -> None:
        if decision.kind == "main" and decision.final:
            self.main_done.set()
        if decision.kind == "sub-bg" and decision.final:
            self.bg_done.set()

    def message_requests(self) -> list[dict]:
        """Bodies of the /v1/messages calls (not count_tokens or probes)."""
        with self._lock:
            return [r["json"] for r in self.requests
                    if r["method"] == "POST" and r["path"].split("?")[0] == "/v1/messages"]

    def __enter__(self) -> "FakeAnthropic":
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="fake-anthropic", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.main_done.set()  # release any request still waiting
        self.bg_done.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


if __name__ == "__main__":  # manual use: python tests/fakeapi.py  (Ctrl-C to stop)
    with FakeAnthropic() as api:
        print(api.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
