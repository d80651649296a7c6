"""A stand-in for the OpenAI Chat Completions API, good enough to drive the real GitHub Copilot
CLI offline (stdlib only).

    with FakeChat() as api:
        env = copilot_env(home, api.url)        # tests/copilot_harness.py
        ...
        api.requests    # every request: {"method", "path", "json"}
        api.responses   # every completion sent: {"id", "usage", "final"}

Copilot CLI (1.0.102, COPILOT_PROVIDER_TYPE=openai) calls ``POST /v1/chat/completions`` with
``stream: true`` and ``stream_options.include_usage``, the whole conversation in ``messages``.
We answer with SSE chunks (``choices[0].delta`` with ``content`` or ``tool_calls``) and, last,
a chunk with no choices and the ``usage`` {prompt_tokens, completion_tokens,
prompt_tokens_details.cached_tokens, completion_tokens_details.reasoning_tokens}, then
``data: [DONE]``.

The replies are rule-based, from the request alone (so a resumed session needs no script):
the prompt is the last ``user`` message; its lines ``RUN: <command>`` (the tool ``bash``) and
``WRITE: <absolute path>`` (the tool ``create``) are the turn's tool calls, in order; the next
one is the one after those already answered
(``tool`` messages after the prompt); when all ran the model answers with ``final_text``. A
request without tools is a side request (a title): ``SIDE_ANSWER``. Usage is deterministic.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACTION_RE = re.compile(r"^\s*(RUN|WRITE|SPAWN):\s*(.+?)\s*$", re.M)
PLAIN_ANSWER = "Plain answer from the stand-in."
SIDE_ANSWER = "Stand-in side answer"
SHELL_TOOL, WRITE_TOOL, TASK_TOOL = "bash", "create", "task"


def _text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "\n".join(c.get("text", "") for c in content or [] if isinstance(c, dict))


def final_text(prompt: str) -> str:
    calls = len(ACTION_RE.findall(prompt))
    return f"Done: {calls} command(s)." if calls else PLAIN_ANSWER


def decide(body: dict, n: int) -> tuple[str | None, list[dict], int]:
    """(text, tool_calls, step) for one request."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    users = [k for k, m in enumerate(messages) if m.get("role") == "user"]
    if not body.get("tools") or not users:
        return SIDE_ANSWER, [], 0
    prompt = _text(messages[users[-1]])
    todo = ACTION_RE.findall(prompt)
    step = sum(m.get("role") == "tool" for m in messages[users[-1] + 1:])
    if step >= len(todo):
        return final_text(prompt), [], step + 1
    kind, arg = todo[step]
    name, arguments = {
        "RUN": (SHELL_TOOL, {"command": arg, "description": f"step {step + 1}"}),
        "WRITE": (WRITE_TOOL, {"path": arg, "file_text": f"written at step {step + 1}\n"}),
        "SPAWN": (TASK_TOOL, {"description": f"step {step + 1}", "prompt": arg.replace(" ; ", "\n"),
                              "agent_type": "general-purpose", "name": f"helper-{step + 1}"})}[kind]
    return None, [{"index": 0, "id": f"call_ct_{n:05d}", "type": "function",
                   "function": {"name": name, "arguments": json.dumps(arguments)}}], step + 1


def usage_for(body: dict, text: str | None, calls: list[dict], cached: int) -> dict[str, Any]:
    """Chat Completions usage: prompt_tokens ~ a quarter of the messages' JSON size (cached ones
    included, as the API counts them), reasoning tokens on tool calls only (inside completion)."""
    prompt_tokens = 400 + len(json.dumps(body.get("messages") or [])) // 4
    cached = min(cached, prompt_tokens - 1)
    reasoning = 12 + len(calls) * 7 if calls else 0
    completion = 5 + len(text or json.dumps(calls)) // 4 + reasoning
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": {"reasoning_tokens": reasoning}}


def _chunk(cid: str, model: str, delta: dict | None, finish: str | None = None, usage: dict | None = None) -> bytes:
    data = {"id": cid, "object": "chat.completion.chunk", "created": 1765000000, "model": model,
            "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        data["usage"] = usage
    return f"data: {json.dumps(data)}\n\n".encode()


class FakeChat:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.responses: list[dict] = []
        self._numbers = itertools.count(1)
        self._last_size = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake.requests.append({"method": "GET", "path": self.path, "json": None})
                body = json.dumps({"object": "list", "data": [{"id": "gpt-4.1", "object": "model"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append({"method": "POST", "path": self.path, "json": body})
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                self.wfile.write(fake.stream(body))
                self.wfile.flush()
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def stream(self, body: dict) -> bytes:
        with self._lock:
            n = next(self._numbers)
            text, calls, _ = decide(body, n)
            size = 400 + len(json.dumps(body.get("messages") or [])) // 4
            usage = usage_for(body, text, calls, self._last_size if body.get("tools") else 0)
            if body.get("tools"):
                self._last_size = size
            cid = f"chatcmpl-ct{n:05d}"
            self.responses.append({"id": cid, "usage": usage, "final": not calls})
        model = body.get("model") or "gpt-4.1"
        out = [_chunk(cid, model, {"role": "assistant", "content": ""})]
        if text:
            out += [_chunk(cid, model, {"content": part}) for part in (text[:len(text) // 2], text[len(text) // 2:])]
        for call in calls:
            out.append(_chunk(cid, model, {"tool_calls": [call]}))
        out.append(_chunk(cid, model, {}, "tool_calls" if calls else "stop"))
        out.append(_chunk(cid, model, None, usage=usage))
        return b"".join(out) + b"data: [DONE]\n\n"

    def __enter__(self) -> FakeChat:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
