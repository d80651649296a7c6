"""A stand-in for the Gemini API, good enough to drive the real Gemini CLI offline (stdlib only).

    with FakeGemini() as api:
        home = gemini_home(tmp, api.url)          # tests/gemini_harness.py
        ...
        api.requests   # every request received: {"method", "path", "json"}
        api.responses  # every streamGenerateContent answer: {"model", "kind", "step", "usage", "parts"}

Gemini CLI (0.61.0) calls ``POST /v1beta/models/<model>:streamGenerateContent?alt=sse`` with
the whole conversation in ``contents`` each time and reads ``data:`` lines, each a
GenerateContentResponse (``candidates[0].content.parts``, ``usageMetadata`` on the last).

The replies are RULE-BASED, derived from the request's own ``contents`` (no global script, so a
resumed session needs no coordination):

* The turn's prompt is the last ``user`` content holding text (not a ``functionResponse``).
* The prompt's lines ``RUN: <command>`` and ``WRITE: <path>`` are the turn's actions, in order:
  ``run_shell_command {command, description}`` and ``write_file {file_path, content}``.
* The next action is the one after those already answered (``functionResponse`` parts after the
  prompt). Each tool-calling response starts with a thought part. When all are done the model
  answers with text (``final_text``), streamed in two chunks; a prompt without actions gets
  ``PLAIN_ANSWER``.
* A request without tools is a side request (a summary, a check): ``SIDE_ANSWER``.

Usage is deterministic (``usage_for``): promptTokenCount from the size of ``contents``;
cachedContentTokenCount, part of it, on every request after a turn's first; thoughtsTokenCount
on tool-calling responses; totalTokenCount = prompt + candidates + thoughts, as the API's.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACTION_RE = re.compile(r"^\s*(RUN|WRITE):\s*(.+?)\s*$", re.M)
PLAIN_ANSWER = "Plain answer from the stand-in."
SIDE_ANSWER = "Stand-in side answer"
THOUGHT = "**Planning** the next step."
FILE_TEXT = "written by the stand-in\n"

Part = dict[str, Any]


def _texts(content: dict) -> str:
    return "\n".join(p["text"] for p in content.get("parts") or [] if isinstance(p, dict) and isinstance(p.get("text"), str))


def _is_prompt(content: dict) -> bool:
    parts = content.get("parts") or []
    return content.get("role") == "user" and any(isinstance(p, dict) and "text" in p for p in parts) and \
        not any(isinstance(p, dict) and "functionResponse" in p for p in parts)


def actions(prompt: str) -> list[tuple[str, str]]:
    return [(kind.lower(), arg) for kind, arg in ACTION_RE.findall(prompt)]


def final_text(prompt: str) -> str:
    todo = actions(prompt)
    return f"Done: {len(todo)} tool call(s)." if todo else PLAIN_ANSWER


def decide(body: dict) -> tuple[str, int, list[Part]]:
    """(kind, step, parts) of the reply to one request, from its contents alone."""
    contents = [c for c in body.get("contents") or [] if isinstance(c, dict)]
    prompts = [k for k, c in enumerate(contents) if _is_prompt(c)]
    if not body.get("tools") or not prompts:
        return "side", 0, [{"text": SIDE_ANSWER}]
    start = prompts[-1]
    prompt = _texts(contents[start])
    todo = actions(prompt)
    step = sum(1 for c in contents[start + 1:] for p in c.get("parts") or []
               if isinstance(p, dict) and "functionResponse" in p)
    if step >= len(todo):
        return ("actions" if todo else "plain"), step + 1, [{"text": final_text(prompt)}]
    action, arg = todo[step]
    call = {"name": "run_shell_command", "args": {"command": arg, "description": f"step {step + 1}"}} \
        if action == "run" else {"name": "write_file", "args": {"file_path": arg, "content": FILE_TEXT}}
    return "actions", step + 1, [{"text": THOUGHT, "thought": True}, {"functionCall": call}]


def usage_for(body: dict, step: int, parts: list[Part]) -> dict[str, int]:
    prompt = 400 + len(json.dumps(body.get("contents") or [])) // 4
    cached = prompt // 2 if step > 1 else 0
    calls = any("functionCall" in p for p in parts)
    thoughts = 12 + step if calls else 0
    candidates = 5 + sum(len(json.dumps(p)) for p in parts if not p.get("thought")) // 4
    usage = {"promptTokenCount": prompt, "candidatesTokenCount": candidates,
             "totalTokenCount": prompt + candidates + thoughts}
    if cached:
        usage["cachedContentTokenCount"] = cached
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return usage


def chunks(parts: list[Part], usage: dict, model: str, n: int) -> list[dict]:
    """The stream of one reply: text in two chunks, a call whole; usage and finishReason last."""
    pieces: list[Part] = []
    for part in parts:
        text = part.get("text")
        if isinstance(text, str) and not part.get("thought") and len(text) > 1:
            pieces += [{"text": text[: len(text) // 2]}, {"text": text[len(text) // 2:]}]
        else:
            pieces.append(part)
    out = [{"candidates": [{"content": {"role": "model", "parts": [piece]}, "index": 0}],
            "modelVersion": model, "responseId": f"resp-ct-{n:05d}"} for piece in pieces]
    out[-1]["candidates"][0]["finishReason"] = "STOP"
    out[-1]["usageMetadata"] = usage
    return out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
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
            body = None
        fake = self.server.fake
        with fake._lock:
            fake.requests.append({"method": self.command, "path": self.path, "json": body})
        path = self.path.split("?", 1)[0]
        match = re.search(r"/models/([^/:]+):(streamGenerateContent|generateContent|countTokens)$", path)
        if self.command == "POST" and match and isinstance(body, dict):
            model, method = match.groups()
            if method == "countTokens":
                self._send(200, json.dumps({"totalTokens": len(json.dumps(body)) // 4}).encode(), "application/json")
                return
            events = fake.answer(model, body)
            if method == "generateContent":
                merged = {**events[-1], "candidates": [{**events[-1]["candidates"][0], "content": {
                    "role": "model", "parts": [p for e in events for p in e["candidates"][0]["content"]["parts"]]}}]}
                self._send(200, json.dumps(merged).encode(), "application/json")
            else:
                self._send(200, b"".join(f"data: {json.dumps(e)}\r\n\r\n".encode() for e in events),
                           "text/event-stream")
        else:
            self._send(404, json.dumps({"error": {"code": 404, "message": "not here", "status": "NOT_FOUND"}}).encode(),
                       "application/json")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: "FakeGemini"


class FakeGemini:
    """Context manager running the stand-in on a free port of 127.0.0.1 (``url``: no path)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.responses: list[dict] = []
        self._n = 0
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "use FakeGemini as a context manager"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def answer(self, model: str, body: dict) -> list[dict]:
        with self._lock:
            self._n += 1
            kind, step, parts = decide(body)
            usage = usage_for(body, step, parts)
            self.responses.append({"model": model, "kind": kind, "step": step, "usage": usage, "parts": parts})
            return chunks(parts, usage, model, self._n)

    def __enter__(self) -> "FakeGemini":
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-gemini", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


if __name__ == "__main__":  # manual use: python tests/fake_gemini.py  (Ctrl-C to stop)
    with FakeGemini() as api:
        print(api.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
