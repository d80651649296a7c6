"""Hand-written Claude Code transcripts for edge cases, shaped like the lines of 2.1.330.

Real recordings live in fixtures/cc-2.1.330/; these cover what a scripted session cannot
easily produce (compaction, interruptions, garbage, partial lines) with the same fields.
"""

import itertools
import json
import os
from datetime import datetime, timedelta, timezone

START = datetime(2026, 11, 20, 9, 0, 0, tzinfo=timezone.utc)


class Transcript:
    """Builds the lines of one session; `write()` puts them where Claude Code would."""

    def __init__(self, session="sess-hand-1", cwd="/work/project", model="claude-sonnet-4-5"):
        self.session, self.cwd, self.model = session, cwd, model
        self.lines = []
        self.clock = itertools.count()
        self.ids = itertools.count(1)
        self.last_uuid = None

    def _stamp(self):
        return (START + timedelta(seconds=next(self.clock))).isoformat().replace("+00:00", "Z")

    def _base(self, kind, **extra):
        uuid = f"u-{self.session}-{next(self.ids)}"
        line = {"parentUuid": self.last_uuid, "isSidechain": False, "type": kind, "uuid": uuid,
                "timestamp": self._stamp(), "cwd": self.cwd, "sessionId": self.session,
                "version": "2.1.330", "gitBranch": "main", **extra}
        self.last_uuid = uuid
        self.lines.append(line)
        return line

    def prompt(self, text, **extra):
        return self._base("user", message={"role": "user", "content": text}, promptId=f"p{len(self.lines)}", **extra)

    def response(self, *blocks, usage=None, stop="end_turn", model=None):
        """One API response: one assistant line per content block, each repeating the usage."""
        message_id = f"msg_{self.session}_{next(self.ids)}"
        usage = usage or {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 100,
                          "cache_creation_input_tokens": 20,
                          "cache_creation": {"ephemeral_5m_input_tokens": 20, "ephemeral_1h_input_tokens": 0}}
        for block in blocks:
            self._base("assistant", requestId=f"req_{message_id}", message={
                "id": message_id, "type": "message", "role": "assistant", "model": model or self.model,
                "content": [block], "stop_reason": stop, "usage": usage})
        return message_id

    def text(self, text, **kw):
        return self.response({"type": "text", "text": text}, **kw)

    def tool(self, name, tool_input, tool_id=None, text=None, **kw):
        tool_id = tool_id or f"toolu_{next(self.ids)}"
        blocks = ([{"type": "text", "text": text}] if text else []) + [
            {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}]
        self.response(*blocks, stop="tool_use", **kw)
        return tool_id

    def result(self, tool_id, content, is_error=False, tool_use_result=None):
        block = {"tool_use_id": tool_id, "type": "tool_result", "content": content}
        if is_error:
            block["is_error"] = True
        return self._base("user", message={"role": "user", "content": [block]},
                          toolUseResult=tool_use_result if tool_use_result is not None else {"stdout": content})

    def compact(self, summary="Summary of the conversation so far."):
        self._base("system", subtype="compact_boundary", content="Conversation compacted")
        return self._base("user", message={"role": "user", "content": summary}, isCompactSummary=True)

    def raw(self, line):
        self.lines.append(line)

    def cost_state(self, model_usage, total_cost):
        self.lines.append({"type": "cost-state", "sessionId": self.session, "totalCostUSD": total_cost,
                           "modelUsage": model_usage})

    def text_lines(self):
        return "".join((line if isinstance(line, str) else json.dumps(line, separators=(",", ":"))) + "\n"
                       for line in self.lines)

    def write(self, projects_dir, partial_tail=None):
        """Write `<projects>/<munged cwd>/<session>.jsonl`; optionally a last line without newline."""
        folder = os.path.join(projects_dir, "".join(c if c.isalnum() else "-" for c in self.cwd))
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, self.session + ".jsonl")
        # Claude Code only appends; rewriting in place would show a reader an emptied file.
        with open(path + ".tmp", "w") as f:
            f.write(self.text_lines())
            if partial_tail is not None:
                f.write(partial_tail)
        os.replace(path + ".tmp", path)
        return path
