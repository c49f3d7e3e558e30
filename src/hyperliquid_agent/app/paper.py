"""Paper trading: the embedded emulator on a stepped clock, and the clocks of the run loop.

`hl-agent run` on `network = "local"` without a venue URL starts the emulator in-process
with a manual clock and steps it from one tick to the next (no waiting), so a bounded
paper session of 48 hourly cycles takes seconds. The simulated clock starts after a
warm-up (`exchange.feed.WARMUP_DAYS`: the signals need 30 days of history), or where the previous paper session in
the same state dir stopped, while the data lasts. With `venue.url` (an emulator from
`hl-agent venue serve`) the loop steps that emulator over its operator door.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from hyperliquid_agent.config import Config
from hyperliquid_agent.errors import ConfigError, VenueUnavailableError
from hyperliquid_agent.exchange.feed import WARMUP_MS

log = logging.getLogger(__name__)


def paper_emulator(model: Any) -> Any:
    """An emulator over `model` on a manual clock (it moves only when stepped)."""
    from hyperliquid_agent.exchange.emulator import EmulatorServer

    return EmulatorServer(model, speedup=None)


def paper_start_ms(first_ms: int, last_ms: int, previous_ms: int | None, tick_ms: int, cycles: int | None) -> int | None:
    """Where a paper session's clock starts: after the warm-up, or one tick after the previous
    session (it then stops at the end of the data, however many cycles were asked). None when the
    previous session used the data up: a start back at the warm-up would put the plan, the loop
    schedule, the risk counters and the fill reads the state dir holds after the clock."""
    start = min(first_ms + WARMUP_MS, max(first_ms, last_ms - tick_ms * (cycles or 1)))
    if previous_ms is None or previous_ms + tick_ms <= start:
        return start
    return previous_ms + tick_ms if previous_ms + tick_ms <= last_ms else None


@dataclass
class PaperVenue:
    server: Any
    url: str
    start_ms: int
    end_ms: int  # the last bar of the data

    def now_ms(self) -> int:
        return self.server.now_ms()

    def advance_to(self, t_ms: int) -> int:
        return self.server.advance_to(t_ms)

    def stop(self) -> None:
        self.server.stop()


def start_paper_venue(cfg: Config, previous_ms: int | None, tick_ms: int, cycles: int | None) -> PaperVenue:
    """Start the embedded emulator (manual clock) over `[venue]` data, warmed up."""
    from hyperliquid_agent.exchange.factory import build_venue_model

    base = cfg.source_path.parent if cfg.source_path else None
    model = build_venue_model(cfg.venue, base=base)
    timeline = model.feed.timeline
    server = paper_emulator(model)
    url = server.start()
    start = paper_start_ms(timeline[0], timeline[-1], previous_ms, tick_ms, cycles)
    if start is None:
        server.stop()
        raise data_used_up(cfg, previous_ms or 0, timeline[-1], "the embedded venue's data")
    if start > server.now_ms():
        server.advance_to(start)
    return PaperVenue(server, url, server.now_ms(), timeline[-1])


def data_used_up(cfg: Config, previous_ms: int, end_ms: int, data: str) -> ConfigError:
    """The paper data ends at or before the last cycle the state dir recorded: nothing is left to run."""
    from hyperliquid_agent.prompts import format_timestamp

    where = cfg.source_path or "config.toml"
    return ConfigError(
        f"{data} ends at {format_timestamp(end_ms)} and the state dir {cfg.state_dir} has already run to "
        f"{format_timestamp(previous_ms)}: no market data is left after its last cycle, and going back to an "
        "earlier time would leave its plan, loop schedule and risk counters in the future. Give this session "
        f"another agent.state_dir (or remove {cfg.state_dir}), or more data ([venue] synthetic_days or "
        f"data_dir in {where})")


# ---------------------------------------------------------------- loop clocks


class WallClock:
    """Real time (testnet, mainnet)."""

    def __init__(self, now: Callable[[], float] | None = None) -> None:
        import time

        self._now = now or time.time

    def now_ms(self) -> int:
        return int(self._now() * 1000)

    def wait_until(self, t_ms: int, stop: threading.Event) -> None:
        delay = (t_ms - self.now_ms()) / 1000
        if delay > 0:
            stop.wait(delay)


class SteppedClock:
    """A simulated venue's time: waiting for a tick is stepping the venue's clock to it.
    Past `end_ms` (the end of the paper data) the session stops instead (`exhausted`).

    An emulator elsewhere (`hl-agent venue serve`) that cannot be reached while the loop waits
    for its next tick (restarted, say) is asked again every `retry_s` seconds until it answers
    or the session is stopped, instead of ending the session."""

    def __init__(self, now: Callable[[], int], advance_to: Callable[[int], Any], end_ms: int | None = None,
                 retry_s: float = 2.0) -> None:
        self._now, self._advance, self.end_ms = now, advance_to, end_ms
        self.retry_s = retry_s
        self.exhausted = False
        self.restarted = False  # found before the state dir's last cycle: an emulator started again (fresh accounts)

    def now_ms(self) -> int:
        return self._now()

    def wait_until(self, t_ms: int, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                return self._step_to(t_ms, stop)
            except VenueUnavailableError as exc:
                log.warning("%s; asking again in %g s (Ctrl-C stops the session)", exc, self.retry_s)
                stop.wait(self.retry_s)

    def _step_to(self, t_ms: int, stop: threading.Event) -> None:
        if t_ms <= self._now():
            return
        if self.end_ms is not None and t_ms > self.end_ms:
            self.exhausted = True
            stop.set()
            return
        self._advance(t_ms)


def remote_stepped_clock(url: str, timeout_s: float = 5.0) -> SteppedClock:
    """The clock of an emulator started elsewhere (`hl-agent venue serve`), stepped over its
    operator door; the session stops at the end of that emulator's data, as an embedded one does."""
    from hyperliquid_agent.exchange.factory import remote_advance_to, remote_clock, remote_data_end

    return SteppedClock(remote_clock(url, timeout_s), lambda t_ms: remote_advance_to(url, t_ms, timeout_s),
                        remote_data_end(url, timeout_s))
