"""Signing of the adapter's actions against the emulator: nonces of two adapters of one key in
one process, a nonce the venue refused, an action whose answer was lost after it ran, and a
transfer an agent wallet cannot sign for its master."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from emulator_support import address_of, funded_exchange, limit_order, market_order, new_key, running_server
from hyperliquid_agent.domain import Filled, Resting, Side
from hyperliquid_agent.errors import VenueUnavailableError
from hyperliquid_agent.exchange import nonce
from hyperliquid_agent.exchange.hyperliquid import HyperliquidExchange

server = running_server(seed=7)


@pytest.fixture(autouse=True)
def _no_leftover_faults(server):
    yield
    server.clear_faults()


def _exchange_posts(ex: HyperliquidExchange) -> list[dict[str, Any]]:
    """Record every payload the adapter posts to /exchange."""
    _, sdk = ex._sdk()
    sent: list[dict[str, Any]] = []
    post = sdk.post

    def recording(path: str, payload: Any = None) -> Any:
        if path == "/exchange":
            sent.append(payload)
        return post(path, payload)

    sdk.post = recording
    return sent


def test_two_adapters_of_one_key_never_sign_the_same_nonce_even_in_one_millisecond(server, monkeypatch):
    key = new_key()
    server.create_account(address_of(key), 10_000)
    first = HyperliquidExchange(server.url, key)
    second = HyperliquidExchange(server.url, key.upper().replace("0X", "0x"))  # same key, other spelling
    frozen = nonce.wall_clock_ms() + 60_000
    monkeypatch.setattr(first.nonces, "_clock_ms", lambda: frozen)  # the clock stands still
    assert second.nonces is first.nonces  # the venue counts nonces per signer, so do we
    first.schedule_cancel(None)
    second.schedule_cancel(None)  # refused as "duplicate nonce" when each adapter had its own counter
    first.set_leverage("BTC", 3)
    assert first.nonces.last == frozen + 2


def test_other_keys_keep_their_own_nonces():
    a, b = nonce.for_signer("0x" + "ab" * 20), nonce.for_signer("0x" + "cd" * 20)
    assert a is not b
    assert nonce.for_signer("0x" + "AB" * 20) is a


def test_a_refused_nonce_is_signed_anew_and_sent_again(server):
    ex = funded_exchange(server)
    sent = _exchange_posts(ex)
    # another process of this key took the next nonces: the venue refuses ours once
    server.inject_fault(200, count=1, path="/exchange",
                        body='{"status":"err","response":"Invalid nonce: duplicate nonce 1795000000000"}')
    [out] = ex.place_orders([market_order(ex, "BTC", Side.BUY, "0.01")])
    assert isinstance(out, Filled)
    assert len(sent) == 2 and sent[0]["nonce"] < sent[1]["nonce"]
    assert sent[0]["signature"] != sent[1]["signature"]
    assert ex.account_state().signed_size("BTC") == Decimal("0.01")  # placed once


def test_a_nonce_refused_every_time_says_what_to_do(server):
    ex = funded_exchange(server)  # max_retries=2
    ex.asset_specs()
    server.inject_fault(200, count=10, path="/exchange",
                        body='{"status":"err","response":"Invalid nonce: nonce too low 5 < 9"}')
    with pytest.raises(VenueUnavailableError, match=r"nonce too low.*own agent wallet.*gave up after 3 attempts"):
        ex.set_leverage("BTC", 2)


def _lose_first_answer(ex: HyperliquidExchange) -> list[dict[str, Any]]:
    """The venue runs the first /exchange request, but its answer is lost (a proxy's 502)."""
    from hyperliquid.utils.error import ServerError

    _, sdk = ex._sdk()
    sent: list[dict[str, Any]] = []
    post = sdk.post

    def flaky(path: str, payload: Any = None) -> Any:
        answer = post(path, payload)
        if path == "/exchange":
            sent.append(payload)
            if len(sent) == 1:
                raise ServerError(502, "<html><body>502 Bad Gateway</body></html>")
        return answer

    sdk.post = flaky
    return sent


def test_an_idempotent_action_whose_answer_was_lost_is_resent_with_a_fresh_nonce(server):
    # Resending the same signed payload is refused as a duplicate nonce once the first one ran,
    # which turned a leverage change that had been made into an error.
    ex = funded_exchange(server)
    sent = _lose_first_answer(ex)
    ex.set_leverage("ETH", 4)
    assert len(sent) == 2 and sent[1]["nonce"] > sent[0]["nonce"]
    [out] = ex.place_orders([market_order(ex, "ETH", Side.BUY, "0.1")])
    assert isinstance(out, Filled)
    [pos] = ex.account_state().positions
    assert pos.leverage == 4


def test_a_cancel_whose_answer_was_lost_reports_the_order_gone(server):
    ex = funded_exchange(server)
    [rest] = ex.place_orders([limit_order(ex, "BTC", Side.BUY, "0.01", "0.1")])
    assert isinstance(rest, Resting)
    sent = _lose_first_answer(ex)
    assert ex.cancel("BTC", rest.oid) is False  # the resend finds it already canceled; no error
    assert len(sent) == 2
    assert ex.open_orders() == []


def test_an_order_whose_answer_was_lost_is_never_sent_again(server):
    ex = funded_exchange(server)
    order = market_order(ex, "SOL", Side.SELL, "1")
    sent = _lose_first_answer(ex)
    with pytest.raises(VenueUnavailableError, match=r"HTTP 502.*<html><body>502 Bad Gateway"):
        ex.place_orders([order])
    assert len(sent) == 1
    assert ex.account_state().signed_size("SOL") == Decimal("-1")


def test_an_agent_wallet_transfer_is_refused_before_anything_is_sent_naming_the_fix(server):
    from hyperliquid_agent.errors import VenueAuthError

    master_key, agent_key = new_key(), new_key()
    master = address_of(master_key)
    server.create_account(master, 1_000)
    server.create_account(address_of(agent_key), 50)  # the agent address holding money of its own
    server.register_agent(address_of(agent_key), master)
    agent = HyperliquidExchange(server.url, agent_key, account_address=master, max_retries=0)
    sent = _exchange_posts(agent)
    with pytest.raises(VenueAuthError, match=r"agent \(API\) wallet.*master account's own key.*nothing was sent"):
        agent.transfer_usd(Decimal(10), to_perp=False)
    assert sent == []
    assert agent.account_state().spot_balance("USDC") == 0
