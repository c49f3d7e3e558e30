"""A scripted local HTTP server speaking the OpenAI and Anthropic wire formats (tests only).

Each queued `Reply` is served to the next request, whatever its path; every request is
kept (path, headers, JSON body) so tests can check what the real SDKs sent.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    content_type: str = "application/json"


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: Any


class WireServer:
    def __init__(self) -> None:
        self.queue: list[Reply] = []
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length)
                with server._lock:
                    server.seen.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()},
                                            json.loads(raw) if raw else None))
                    reply = server.queue.pop(0) if server.queue else Reply(500, {"error": {"message": "no reply queued"}})
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                data = reply.body if isinstance(reply.body, (bytes, str)) else json.dumps(reply.body)
                data = data.encode() if isinstance(data, str) else data
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", reply.content_type)
                    self.send_header("content-length", str(len(data)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def push(self, *replies: Reply) -> None:
        with self._lock:
            self.queue.extend(replies)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server() -> Iterator[WireServer]:
    """A running WireServer, shut down after the test (import this fixture into a test module)."""
    s = WireServer()
    yield s
    s.close()


# ---------------------------------------------------------------- OpenAI bodies

def chat_body(content: str | None, *, model: str = "gpt-4o-2024-08-06", prompt_tokens: int = 120,
              completion_tokens: int = 30, cached: int = 0, reasoning: int = 0, refusal: str | None = None,
              finish_reason: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "finish_reason": finish_reason, "logprobs": None,
                     "message": {"role": "assistant", "content": content, "refusal": refusal}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens,
                  "prompt_tokens_details": {"cached_tokens": cached},
                  "completion_tokens_details": {"reasoning_tokens": reasoning}},
    }


def responses_body(text: str, *, model: str = "gpt-5-2025-08-07", input_tokens: int = 200, cached: int = 0,
                   output_tokens: int = 90, reasoning: int = 60, cache_write: int = 0) -> dict[str, Any]:
    return {
        "id": "resp_test",
        "object": "response",
        "created_at": 1_700_000_000,
        "model": model,
        "status": "completed",
        "output": [
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": text, "annotations": []}]},
        ],
        "usage": {"input_tokens": input_tokens,
                  "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": cache_write},
                  "output_tokens": output_tokens, "output_tokens_details": {"reasoning_tokens": reasoning},
                  "total_tokens": input_tokens + output_tokens},
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
    }


def openai_error(status: int, message: str, typ: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": typ, "param": None, "code": None}}


# ---------------------------------------------------------------- Anthropic bodies

def anthropic_body(tool_input: dict[str, Any] | None = None, *, text: str | None = None, tool_name: str = "RegimeSchema",
                   model: str = "claude-sonnet-4-5-20250929", input_tokens: int = 40, cache_read: int = 0,
                   cache_write: int = 0, output_tokens: int = 25, stop_reason: str = "tool_use") -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if text is not None:
        content.append({"type": "text", "text": text})
    if tool_input is not None:
        content.append({"type": "tool_use", "id": "toolu_1", "name": tool_name, "input": tool_input})
    return {
        "id": "msg_test", "type": "message", "role": "assistant", "model": model, "content": content,
        "stop_reason": stop_reason, "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "cache_read_input_tokens": cache_read,
                  "cache_creation_input_tokens": cache_write, "output_tokens": output_tokens},
    }


def anthropic_error(typ: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": typ, "message": message}}
