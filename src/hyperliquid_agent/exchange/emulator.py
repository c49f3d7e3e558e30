"""The local Hyperliquid emulator: the venue model behind Hyperliquid's `/info` and `/exchange`.

The real `hyperliquid-python-sdk` (and so our adapter) runs against it unchanged:
- `POST /info` answers the Info requests we use with the real response shapes (`wire.py`).
- `POST /exchange` recovers the signer with the SDK's own helpers (testnet signing, since any
  local URL signs as testnet), resolves approved agent wallets to their master and vault
  leaders to their vault, applies Hyperliquid's nonce rules, then runs the action on the model.
- The simulated clock either steps on request (`step`, `advance_to`: tests) or runs at a
  speed-up of simulated ms per wall ms (paper trading); the model is advanced lazily, before
  each request, to the clock's time.
- `POST /emulator` is the operator door (not part of Hyperliquid's API): read the simulated
  clock, fund an account, approve an agent wallet, step the clock.
- `inject_fault` makes the next N requests (of one path, one info or action type) answer
  429/500, a body of the test's choosing, or stall, so tests can exercise the adapter's error
  mapping, its response parsing and its retry policy.

Start it in a thread with `EmulatorServer(model).start()` (or as a context manager) or in the
foreground with `serve()` (the CLI's `hl-agent venue serve`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from hyperliquid_agent.exchange import emulator_actions as actions
from hyperliquid_agent.exchange.emulator_actions import DESERIALIZE_ERROR
from hyperliquid_agent.exchange.nonce import wall_clock_ms

log = logging.getLogger(__name__)

MAX_TRACKED_NONCES = 100  # the venue keeps each signer's 100 highest nonces
NONCE_PAST_MS = 2 * 86_400_000  # a nonce must lie in (T - 2 days, T + 1 day), T = the block time
NONCE_FUTURE_MS = 86_400_000
MAX_BODY_BYTES = 1 << 20  # a request body larger than this (the SDK's are a few kB) is refused unread


@dataclass
class Fault:
    status: int | None  # HTTP status to answer with; None = answer normally after the delay
    remaining: int
    delay_s: float = 0.0
    path: str | None = None  # "/info", "/exchange" or None for both
    body: str = ""
    kind: str | None = None  # only requests of this info type / action type (None: any)


class SimClock:
    """Simulated time: manual steps, or `speedup` simulated ms per wall ms from `start()`."""

    def __init__(self, start_ms: int, speedup: float | None = None, wall_ms: Callable[[], int] = wall_clock_ms) -> None:
        self._base_sim = start_ms
        self._speedup = speedup if speedup and speedup > 0 else None
        self._wall_ms = wall_ms
        self._base_wall = wall_ms()

    @property
    def running(self) -> bool:
        return self._speedup is not None

    def now_ms(self) -> int:
        if self._speedup is None:
            return self._base_sim
        return self._base_sim + int((self._wall_ms() - self._base_wall) * self._speedup)

    def set(self, t_ms: int) -> None:
        self._base_sim = t_ms
        self._base_wall = self._wall_ms()


class NonceBook:
    """Per-signer nonce rules: within (now - 2 days, now + 1 day), never reused, and above
    the smallest of the signer's 100 highest."""

    def __init__(self) -> None:
        self._seen: dict[str, set[int]] = {}

    def check_and_record(self, signer: str, nonce: int, now_ms: int) -> str | None:
        oldest, newest = now_ms - NONCE_PAST_MS, now_ms + NONCE_FUTURE_MS
        if nonce <= oldest:
            return f"Invalid nonce: nonce too low {nonce} < {oldest}"
        if nonce >= newest:
            return f"Invalid nonce: nonce too high {nonce} > {newest}"
        seen = self._seen.setdefault(signer, set())
        if nonce in seen:
            return f"Invalid nonce: duplicate nonce {nonce}"
        if len(seen) >= MAX_TRACKED_NONCES:
            lowest = min(seen)
            if nonce < lowest:
                return f"Invalid nonce: nonce too low {nonce} < {lowest}"
            seen.discard(lowest)
        seen.add(nonce)
        return None


class EmulatorServer:
    """An HTTP door onto a venue model, on 127.0.0.1."""

    def __init__(
        self,
        model: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        speedup: float | None = None,
        wall_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.model = model
        self.host = host
        self.port = port
        self.clock = SimClock(model.now_ms, speedup, wall_ms)
        self.wall_ms = wall_ms  # the "block time" nonces and expiresAfter are checked against
        self.lock = threading.RLock()  # one request at a time touches the model
        self.nonces = NonceBook()
        self.agents: dict[str, str] = {}  # agent address -> master address (lowercase)
        self._agent_names: dict[tuple[str, str], str] = {}  # (master, agent name) -> agent address
        self.vault_leaders: dict[str, set[str]] = {}  # vault address -> leaders allowed to trade it
        self.request_log: deque[tuple[str, str]] = deque(maxlen=10_000)  # (path, type)
        # normalTpsl children waiting for their resting parent to fill: (user, parent oid) -> orders
        self.pending_children: dict[tuple[str, int], list[Any]] = {}
        self._faults: list[Fault] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the emulator is not started")
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    def _bind(self) -> ThreadingHTTPServer:
        if self._httpd is None:
            handler = type("EmulatorHandler", (_Handler,), {"emulator": self})
            httpd = ThreadingHTTPServer((self.host, self.port), handler)
            httpd.daemon_threads = True
            self._httpd = httpd
        return self._httpd

    def start(self) -> str:
        """Serve in a background thread; returns the base URL (e.g. http://127.0.0.1:53124)."""
        httpd = self._bind()
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                         name="hl-emulator", daemon=True)
        self._thread.start()
        return self.url

    def serve(self) -> None:
        """Serve in the foreground until interrupted (Ctrl-C)."""
        httpd = self._bind()
        try:
            httpd.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        if self._thread is not None:
            httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        httpd.server_close()

    def __enter__(self) -> "EmulatorServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- test and operator API
    def step(self, ms: int) -> int:
        """Move simulated time forward by `ms` (the model replays what happens meanwhile)."""
        return self.advance_to(self.clock.now_ms() + ms)

    def advance_to(self, t_ms: int) -> int:
        with self.lock:
            self.clock.set(max(t_ms, self.clock.now_ms()))
            self._sync_model()
            return self.model.now_ms

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def create_account(self, address: str, usdc: Decimal | int | str) -> str:
        with self.lock:
            self.model.create_account(address.lower(), Decimal(str(usdc)))
        return address.lower()

    def register_agent(self, agent_address: str, master_address: str, name: str = "") -> None:
        """Approve `agent_address` as an API wallet trading for `master_address`. Like the
        venue, a new agent under the same name (unnamed included) replaces the previous one."""
        agent, master = agent_address.lower(), master_address.lower()
        with self.lock:
            previous = self._agent_names.get((master, name))
            if previous is not None and previous != agent:
                self.agents.pop(previous, None)
            self._agent_names[(master, name)] = agent
            self.agents[agent] = master

    def register_vault(self, vault_address: str, leader_address: str) -> None:
        """Let `leader_address` (or its agents) trade the account `vault_address`."""
        with self.lock:
            self.vault_leaders.setdefault(vault_address.lower(), set()).add(leader_address.lower())

    def inject_fault(self, status: int | None = 500, count: int = 1, *, delay_s: float = 0.0,
                     path: str | None = None, body: str | None = None, kind: str | None = None) -> None:
        """The next `count` requests (to `path`, or any; of info/action type `kind`, or any) answer
        `status` with `body` (or stall `delay_s`)."""
        text = body if body is not None else ("Too many requests" if status == 429 else "Internal Server Error")
        with self.lock:
            self._faults.append(Fault(status, count, delay_s, path, text, kind))

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def count_requests(self, path: str | None = None, kind: str | None = None) -> int:
        with self.lock:
            log = tuple(self.request_log)
        return sum(1 for p, k in log if (path is None or p == path) and (kind is None or k == kind))

    # ---------------------------------------------------------------- request handling
    def _sync_model(self) -> None:
        target = self.clock.now_ms()
        if target > self.model.now_ms:
            self.model.advance_to(target)
        if self.pending_children:
            actions.release_children(self)

    def _take_fault(self, path: str, raw: bytes) -> Fault | None:
        with self.lock:
            kind: str | None = None
            for f in self._faults:
                if f.kind is not None and kind is None:  # read the request's type only when asked to
                    kind = _request_kind(path, raw)
                if f.remaining > 0 and (f.path is None or f.path == path) and (f.kind is None or f.kind == kind):
                    f.remaining -= 1
                    return f
            self._faults = [f for f in self._faults if f.remaining > 0]
        return None

    def handle(self, path: str, body: Any) -> tuple[int, Any]:
        """Answer one request: (HTTP status, JSON value or plain text)."""
        if path == "/emulator":
            return actions.admin(self, body)
        if not isinstance(body, dict) or ("type" not in body and path == "/info") or (
            path == "/exchange" and (not isinstance(body.get("action"), dict) or actions.malformed(body["action"]))
        ):
            return 422, DESERIALIZE_ERROR
        kind = body["type"] if path == "/info" else str(body["action"].get("type"))
        with self.lock:
            self.request_log.append((path, kind))
            self._sync_model()
            if path == "/info":
                return actions.info(self, body)
            return 200, actions.exchange(self, body)


def _request_kind(path: str, raw: bytes) -> str:
    """The info type or action type of a raw request body ("" when it has none)."""
    try:
        body = json.loads(raw or b"null")
        kind = body.get("type") if path == "/info" else body["action"].get("type")
    except (ValueError, AttributeError, KeyError, TypeError):
        return ""
    return str(kind or "")


class _Handler(BaseHTTPRequestHandler):
    emulator: EmulatorServer
    protocol_version = "HTTP/1.1"  # keep-alive: the SDK's requests.Session reuses the connection
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stalls

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:  # a broken or hostile client: answer, do not read
            self.close_connection = True
            self._send(400 if length < 0 else 413, "Bad Content-Length" if length < 0 else "Payload Too Large")
            return
        raw = self.rfile.read(length) if length else b""
        path = self.path.rstrip("/") or "/"
        if path not in ("/info", "/exchange", "/emulator"):
            self._send(404, "Not Found")
            return
        fault = self.emulator._take_fault(path, raw)
        if fault is not None:
            if fault.delay_s:
                time.sleep(fault.delay_s)
            if fault.status is not None:
                self._send(fault.status, fault.body)
                return
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            self._send(422, DESERIALIZE_ERROR)
            return
        try:
            status, payload = self.emulator.handle(path, body)
        except Exception:  # a bug in the emulator or model: answer like a venue fault, keep serving
            log.exception("emulator failed on %s %s", path, raw[:200])
            status, payload = 500, "null"
        self._send(status, payload)

    def _send(self, status: int, payload: Any) -> None:
        if isinstance(payload, str):
            data, ctype = payload.encode(), "text/plain; charset=utf-8"
        else:
            data, ctype = json.dumps(payload, separators=(",", ":")).encode(), "application/json"
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client left before the answer: nothing to do
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        log.debug("emulator %s", format % args)


__all__ = ["EmulatorServer", "Fault", "NonceBook", "SimClock"]
