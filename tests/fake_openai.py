"""A stand-in for the OpenAI Responses API, good enough to drive the real Codex CLI offline
(stdlib only).

    with FakeOpenAI() as api:
        home = codex_home(tmp, api.url)          # tests/codex_harness.py
        ...
        api.requests   # every request received: {"method", "path", "headers", "json"}
        api.responses  # every /v1/responses answer: {"id", "kind", "step", "usage", "items", ...}

Codex (0.169.0) only calls ``POST /v1/responses`` with ``stream: true`` and the whole
conversation in ``input`` each time; it reads the SSE events ``response.created``,
``response.output_item.added`` / ``.done`` (the items it keeps), ``response.output_text.delta``,
``response.reasoning_summary_text.delta`` and ``response.completed`` (whose ``response.usage``
becomes its token accounting); others are ignored, but we send the usual ones so the stream
looks like the real API's.

The replies are RULE-BASED, derived from the request's own ``input`` (no global script, so
resumed sessions and subagents need no coordination):

* The turn's prompt is the last ``user`` message that is not context Codex adds itself
  (``<environment_context>``, AGENTS.md instructions, ...).
* The prompt's lines ``RUN: <command>`` and ``SPAWN: <task>`` are the turn's actions, in
  order. ``RUN`` is one call of the shell tool (``exec_command {"cmd": ...}``); ``SPAWN`` is two
  responses: ``spawn_agent {"message": <task>}`` then ``wait_agent`` on the id it returned. The
  task is itself a prompt for the subagent (``SPAWN: RUN: echo hi`` makes the agent run it).
  ``PATCH: <patch as a JSON string>`` is a shell call of ``apply_patch`` with that patch (Codex
  applies it itself; the stand-in's model has no apply_patch tool of its own).
* The next action is the one after those already answered: the number of
  ``function_call_output`` items after the prompt. When all are done the model answers with
  text (``final_text``). A prompt without actions gets ``PLAIN_ANSWER`` at once.
* A request without tools is a side request (a title, a summary): ``SIDE_ANSWER``.

Usage is deterministic, derived from the request (``usage_for``): input tokens from the size of
``input``, cached tokens from the previous request of the same thread, cache writes on a
thread's first request, reasoning tokens on tool-calling responses only. Each response's usage
is kept in ``api.responses`` so tests can compare sums with what Codex wrote.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RUN_RE = re.compile(r"^\s*RUN:\s*(.+?)\s*$", re.M)
SPAWN_RE = re.compile(r"^\s*SPAWN:\s*(.+?)\s*$", re.M)
ACTION_RE = re.compile(r"^\s*(RUN|SPAWN|PATCH):\s*(.+?)\s*$", re.M)
# User messages Codex writes itself around the real prompt.
CONTEXT_PREFIXES = ("<environment_context>", "<user_instructions>", "# AGENTS.md", "<INSTRUCTIONS>",
                    "<turn_aborted>", "<subagent_notification>", "<skills_instructions>")
PLAIN_ANSWER = "Plain answer from the stand-in."
SIDE_ANSWER = "Stand-in side answer"
REASONING_SUMMARY = "**Planning** the next command."
SHELL_TOOL = "exec_command"
SPAWN_TOOL, WAIT_TOOL, AGENT_NAMESPACE = "spawn_agent", "wait_agent", "multi_agent_v1"

Item = dict[str, Any]


# --------------------------------------------------------------------------- conversation


def _text(item: Item) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    return "\n".join(c.get("text", "") for c in content or [] if isinstance(c, dict))


def _is_prompt(item: Item) -> bool:
    if item.get("type") != "message" or item.get("role") != "user":
        return False
    return not _text(item).lstrip().startswith(CONTEXT_PREFIXES)


def actions(prompt: str) -> list[tuple[str, str]]:
    """The turn's actions, in prompt order: ("run", command) / ("spawn", task) / ("wait", "")."""
    out: list[tuple[str, str]] = []
    for kind, arg in ACTION_RE.findall(prompt):
        if kind == "PATCH":
            arg, kind = f"apply_patch <<'EOF'\n{json.loads(arg)}EOF\n", "RUN"
        out += [("run", arg)] if kind == "RUN" else [("spawn", arg), ("wait", "")]
    return out


def final_text(prompt: str) -> str:
    """The turn's closing answer: which actions ran (what tests look for in rollouts)."""
    runs, spawns = len(RUN_RE.findall(prompt)), len(SPAWN_RE.findall(prompt))
    if not runs and not spawns:
        return PLAIN_ANSWER
    return f"Done: {runs} command(s) and {spawns} subagent(s)."


class Decision:
    """What to answer: the kind of turn, the step (1-based) and the output items."""

    def __init__(self, kind: str, step: int, items: list[Item], final: bool) -> None:
        self.kind, self.step, self.items, self.final = kind, step, items, final


def _message(text: str, n: int) -> Item:
    return {"type": "message", "id": f"msg_ct_{n:05d}", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}


def _call(name: str, arguments: dict, n: int, namespace: str | None = None) -> Item:
    item = {"type": "function_call", "id": f"fc_ct_{n:05d}", "status": "completed", "name": name,
            "arguments": json.dumps(arguments), "call_id": f"call_ct_{n:05d}"}
    if namespace:
        item["namespace"] = namespace
    return item


def _reasoning(n: int) -> Item:
    return {"type": "reasoning", "id": f"rs_ct_{n:05d}",
            "summary": [{"type": "summary_text", "text": REASONING_SUMMARY}]}


def _agent_id(output: Any) -> str:
    """The agent id in spawn_agent's function_call_output (a JSON string, or text)."""
    text = output if isinstance(output, str) else json.dumps(output)
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("agent_id", "id", "target", "agent_path"):
            if isinstance(data.get(key), str):
                return data[key]
    match = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text)
    return match.group(0) if match else text.strip()


def decide(body: dict, n: int) -> Decision:
    """Choose the reply for one /v1/responses request from its input alone (n: a fresh number)."""
    items = [i for i in body.get("input") or [] if isinstance(i, dict)]
    prompts = [k for k, item in enumerate(items) if _is_prompt(item)]
    if not body.get("tools") or not prompts:
        return Decision("side", 0, [_message(SIDE_ANSWER, n)], final=True)
    start = prompts[-1]
    prompt = _text(items[start])
    todo = actions(prompt)
    outputs = [i for i in items[start + 1:] if i.get("type") == "function_call_output"]
    step = len(outputs)
    kind = "actions" if todo else "plain"
    if step >= len(todo):
        return Decision(kind, step + 1, [_message(final_text(prompt), n)], final=True)
    action, arg = todo[step]
    if action == "run":
        call = _call(SHELL_TOOL, {"cmd": arg, "yield_time_ms": 10000}, n)
    elif action == "spawn":
        call = _call(SPAWN_TOOL, {"message": arg}, n, AGENT_NAMESPACE)
    else:
        spawned = _agent_id(outputs[-1].get("output"))
        call = _call(WAIT_TOOL, {"targets": [spawned], "timeout_ms": 60000}, n, AGENT_NAMESPACE)
    return Decision(kind, step + 1, [_reasoning(n), call], final=False)


def _cache_key(body: dict) -> str:
    """Which earlier request this one's cache comes from: the same thread (a subagent shares its
    parent's prompt_cache_key but has a thread of its own)."""
    meta = body.get("client_metadata") if isinstance(body.get("client_metadata"), dict) else {}
    return str(meta.get("thread_id") or body.get("prompt_cache_key") or "")


def usage_for(body: dict, decision: Decision, cached: int) -> dict[str, Any]:
    """Responses-API usage for one reply: deterministic given the request.

    input_tokens ~ a quarter of the input's JSON size; cached_tokens = what the previous request
    of the same thread sent (never more than now); a thread's first request writes half its
    input to the cache (``cache_write_tokens``, which Codex 0.169.0 reads into
    ``cache_write_input_tokens``); reasoning only on tool calls.
    """
    input_tokens = 500 + len(json.dumps(body.get("input") or [])) // 4
    cached = min(cached, input_tokens - 1)
    reasoning = 0 if decision.final else 16 + decision.step
    out_text = sum(len(i.get("arguments") or _text(i)) for i in decision.items)
    output_tokens = 5 + out_text // 4 + reasoning
    return {"input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": cached,
                                     "cache_write_tokens": 0 if cached else input_tokens // 2},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": input_tokens + output_tokens}


# --------------------------------------------------------------------------- SSE


def _sse(data: dict) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()


def _halves(text: str) -> list[str]:
    return [part for part in (text[: len(text) // 2], text[len(text) // 2:]) if part]


def item_events(item: Item, index: int) -> list[dict]:
    """The streaming events of one output item, as the Responses API sends them."""
    events: list[dict] = []
    if item["type"] == "message":
        text = item["content"][0]["text"]
        events.append({"type": "response.output_item.added", "output_index": index,
                       "item": {**item, "status": "in_progress", "content": []}})
        events.append({"type": "response.content_part.added", "item_id": item["id"],
                       "output_index": index, "content_index": 0,
                       "part": {"type": "output_text", "text": "", "annotations": []}})
        for part in _halves(text):
            events.append({"type": "response.output_text.delta", "item_id": item["id"],
                           "output_index": index, "content_index": 0, "delta": part})
        events.append({"type": "response.output_text.done", "item_id": item["id"],
                       "output_index": index, "content_index": 0, "text": text})
        events.append({"type": "response.content_part.done", "item_id": item["id"],
                       "output_index": index, "content_index": 0, "part": item["content"][0]})
    elif item["type"] == "function_call":
        events.append({"type": "response.output_item.added", "output_index": index,
                       "item": {**item, "status": "in_progress", "arguments": ""}})
        for part in _halves(item["arguments"]):
            events.append({"type": "response.function_call_arguments.delta", "item_id": item["id"],
                           "output_index": index, "delta": part})
        events.append({"type": "response.function_call_arguments.done", "item_id": item["id"],
                       "output_index": index, "arguments": item["arguments"]})
    elif item["type"] == "reasoning":
        text = item["summary"][0]["text"]
        events.append({"type": "response.output_item.added", "output_index": index,
                       "item": {**item, "summary": []}})
        events.append({"type": "response.reasoning_summary_part.added", "item_id": item["id"],
                       "output_index": index, "summary_index": 0,
                       "part": {"type": "summary_text", "text": ""}})
        for part in _halves(text):
            events.append({"type": "response.reasoning_summary_text.delta", "item_id": item["id"],
                           "output_index": index, "summary_index": 0, "delta": part})
        events.append({"type": "response.reasoning_summary_text.done", "item_id": item["id"],
                       "output_index": index, "summary_index": 0, "text": text})
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events


def response_events(response: dict) -> list[dict]:
    shell = {**response, "status": "in_progress", "output": [], "usage": None}
    events = [{"type": "response.created", "response": shell},
              {"type": "response.in_progress", "response": shell}]
    for index, item in enumerate(response["output"]):
        events += item_events(item, index)
    events.append({"type": "response.completed", "response": response})
    for seq, event in enumerate(events):
        event["sequence_number"] = seq
    return events


# --------------------------------------------------------------------------- HTTP server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet: tests read api.requests instead

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("x-request-id", f"req_ct_{next(self.server.fake._request_ids):05d}")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None  # e.g. a compressed body: recorded as None, answered like a probe
        fake = self.server.fake
        with fake._lock:
            fake.requests.append({"method": self.command, "path": self.path,
                                  "headers": dict(self.headers), "json": body})
        path = self.path.split("?", 1)[0]
        if self.command == "POST" and path.endswith("/responses") and isinstance(body, dict):
            data = fake.answer(body)
            self._send(200, data, "text/event-stream")
        elif path.endswith("/models"):
            self._send(200, json.dumps({"object": "list", "data": [], "models": []}).encode(),
                       "application/json")
        else:
            self._send(200, b"{}", "application/json")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: "FakeOpenAI"


class FakeOpenAI:
    """Context manager running the stand-in on a free port of 127.0.0.1 (``url`` ends in /v1).

    response_model: model name put in every response instead of echoing the request's.
    """

    def __init__(self, response_model: str | None = None) -> None:
        self.response_model = response_model
        self.requests: list[dict] = []
        self.responses: list[dict] = []
        self._ids = itertools.count(1)
        self._request_ids = itertools.count(1)
        self._last_input: dict[str, int] = {}  # thread -> input_tokens last sent
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "use FakeOpenAI as a context manager"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def answer(self, body: dict) -> bytes:
        """The SSE body for one /v1/responses request; records the response."""
        with self._lock:
            n = next(self._ids)
            decision = decide(body, n)
            key = _cache_key(body)
            usage = usage_for(body, decision, self._last_input.get(key, 0))
            self._last_input[key] = usage["input_tokens"]
            response = {"id": f"resp_ct_{n:05d}", "object": "response", "created_at": int(time.time()),
                        "status": "completed", "model": self.response_model or body.get("model", ""),
                        "output": decision.items, "usage": usage}
            self.responses.append({"id": response["id"], "kind": decision.kind, "step": decision.step,
                                   "final": decision.final, "usage": usage, "items": decision.items,
                                   "thread": key})
        return b"".join(_sse(e) for e in response_events(response))

    def response_requests(self) -> list[dict]:
        """Bodies of the /v1/responses calls."""
        with self._lock:
            return [r["json"] for r in self.requests
                    if r["method"] == "POST" and r["path"].split("?")[0].endswith("/responses")]

    def __enter__(self) -> "FakeOpenAI":
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-openai",
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


if __name__ == "__main__":  # manual use: python tests/fake_openai.py  (Ctrl-C to stop)
    with FakeOpenAI() as api:
        print(api.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
