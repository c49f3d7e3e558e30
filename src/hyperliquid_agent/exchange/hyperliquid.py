"""`HyperliquidExchange`: the ExchangePort on hyperliquid-python-sdk (local emulator, testnet, mainnet).

- SDK objects are built once, on first use, with meta/spotMeta fetched by us and injected,
  and `skip_ws=True` (no websocket thread).
- Every response is parsed with the wire models (`wire.py`): strings -> Decimal.
- Each order's status (`resting` / `filled` / `error`) becomes Resting / Filled / Rejected;
  a rejected order comes back inside `"status":"ok"`, so the envelope alone means nothing.
- Failures map into our error tree with a retry policy per class (`retry.py`).
- Actions are signed here with the SDK's signing helpers and our own strictly increasing
  nonce (`nonce.py`), so two actions never share a millisecond.
- With an agent (API) wallet key, `account_address` is the master account traded for;
  info queries use the master (or `vault_address` when trading a vault/subaccount).
- Prices and sizes stay Decimal until the SDK call; an order whose price or size is not
  already valid at the venue's precision is refused here (never silently re-rounded).
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any, Callable, Sequence

from pydantic import ValidationError

from hyperliquid_agent.domain import (
    AccountState,
    AssetSpec,
    BookView,
    Candle,
    Fill,
    Filled,
    FundingPoint,
    L2Book,
    MarketSnapshot,
    MarketType,
    OpenOrder,
    OrderOutcome,
    Resting,
    is_valid_price,
    is_valid_size,
    to_decimal,
)
from hyperliquid_agent.domain.orders import OrderIntent
from hyperliquid_agent.domain.verdicts import ApprovedOrder, require_approved
from hyperliquid_agent.errors import ConfigError, VenueAuthError, VenueRejectedError, VenueResponseError
from hyperliquid_agent.exchange import wire
from hyperliquid_agent.exchange.nonce import for_signer, wall_clock_ms
from hyperliquid_agent.exchange.retry import (
    RetryPolicy, call_with_retry, error_for_err_status, parse, with_http_errors,
)

NETWORK_URLS = {  # the SDK's constants, spelled out so importing this module stays cheap
    "mainnet": "https://api.hyperliquid.xyz",
    "testnet": "https://api.hyperliquid-testnet.xyz",
}


def wallet_from_key(secret_key: str) -> Any:
    """An eth_account LocalAccount; a malformed key is a ConfigError that never echoes it."""
    import eth_account

    try:
        return eth_account.Account.from_key(secret_key)
    except Exception:  # never chain: the original message could echo the key
        raise ConfigError("hyperliquid.secret_key is not a valid private key; expected 0x followed by "
                          "64 hex digits (export HL_SECRET_KEY=0x...)") from None


def checked_address(value: str | None, key: str) -> str | None:
    """`value` if it is an address (0x and 40 hex digits), else a ConfigError naming `key`."""
    if value is None or wire.is_address(value):
        return value
    raise ConfigError(f"{key} = {value!r} is not an address; expected 0x followed by 40 hex digits "
                      "(copy it from the Hyperliquid app), or remove the key")


def checked_url(url: str, key: str) -> str:
    """`url` if it is an http(s) URL with a host, else a ConfigError naming `key`."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(f"{key} = {url!r} is not a URL; expected http://HOST:PORT (a running emulator, e.g. "
                          "http://127.0.0.1:3001) or https://HOST, or remove the key")
    return url


def is_loopback(url: str) -> bool:
    """Whether `url` names this machine (localhost or a loopback address)."""
    from ipaddress import ip_address
    from urllib.parse import urlparse

    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


class HyperliquidExchange:
    """ExchangePort over the Hyperliquid HTTP API (or the local emulator, which speaks it)."""

    def __init__(
        self,
        base_url: str,
        secret_key: str,
        *,
        account_address: str | None = None,
        vault_address: str | None = None,
        timeout_s: float = 10.0,
        max_retries: int = 3,
        backoff_s: float = 0.25,
        sleep: Callable[[float], None] | None = None,
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        # The SDK joins paths to it ("https://api.hyperliquid.xyz/" asked for "//exchange"), and
        # mainnet was recognised by the exact URL (with a slash, every action was signed for testnet).
        self.base_url = base_url.rstrip("/")
        self._wallet = wallet_from_key(secret_key)
        self.signer_address = self._wallet.address
        self.account_address = checked_address(account_address, "hyperliquid.account_address") or self._wallet.address
        self.vault_address = checked_address(vault_address, "hyperliquid.vault_address")
        self.user = (vault_address or self.account_address).lower()
        self.timeout_s = timeout_s
        self.policy = RetryPolicy(max_retries=max_retries, backoff_s=backoff_s)
        self._sleep = sleep
        self._clock_ms = clock_ms
        self.nonces = for_signer(self.signer_address)  # shared by every adapter of this key
        self._lock = threading.Lock()
        self._info: Any = None
        self._exchange: Any = None
        self._specs: dict[str, AssetSpec] | None = None
        self._token_pairs: dict[str, str] = {}

    def __repr__(self) -> str:  # never shows the key
        return f"HyperliquidExchange({self.base_url!r}, signer={self.signer_address}, user={self.user})"

    # ---------------------------------------------------------------- plumbing
    @property
    def is_mainnet(self) -> bool:
        """Whether actions are signed for mainnet: any URL on the mainnet API's host (the config's
        mainnet gate, `trades_mainnet`, goes by the host too), e.g. with a port or in capitals;
        signed for testnet, mainnet refuses every action as an unknown user."""
        from urllib.parse import urlsplit

        try:
            return urlsplit(self.base_url).hostname == urlsplit(NETWORK_URLS["mainnet"]).hostname
        except ValueError:  # not a URL at all: nothing will be sent
            return False

    def now_ms(self) -> int:
        return self._clock_ms()

    def _retry(self, fn: Callable[[], Any], what: str, only_if_not_landed: bool = False) -> Any:
        kwargs = {"sleep": self._sleep} if self._sleep is not None else {}
        return call_with_retry(fn, what, self.policy, only_if_not_landed=only_if_not_landed, **kwargs)

    def _sdk(self) -> tuple[Any, Any]:
        with self._lock:
            if self._exchange is None:
                from hyperliquid.api import API
                from hyperliquid.exchange import Exchange

                api = with_http_errors(API(self.base_url, self.timeout_s))
                local = is_loopback(self.base_url)  # then no proxy or .netrc lookups on every request
                api.session.trust_env = not local
                meta = self._retry(lambda: api.post("/info", {"type": "meta", "dex": ""}), "meta")
                spot_meta = self._retry(lambda: api.post("/info", {"type": "spotMeta"}), "spotMeta")
                meta_w = parse(wire.MetaWire, meta, "meta")
                spot_w = parse(wire.SpotMetaWire, spot_meta, "spotMeta")
                self._specs = parse(lambda _: wire.specs_from_wire(meta_w, spot_w), None, "meta")
                self._token_pairs = wire.spot_token_pairs(spot_w)
                try:
                    exchange = Exchange(self._wallet, self.base_url, meta=meta, vault_address=self.vault_address,
                                        account_address=self.account_address, spot_meta=spot_meta,
                                        timeout=self.timeout_s)
                except (KeyError, IndexError, TypeError) as exc:
                    raise VenueResponseError(f"meta/spotMeta from {self.base_url} are inconsistent: {exc!r}") from None
                api.session.close()
                exchange.session.trust_env = exchange.info.session.trust_env = not local
                with_http_errors(exchange)
                with_http_errors(exchange.info)  # (its own session and handler)
                self._exchange, self._info = exchange, exchange.info
            return self._info, self._exchange

    def _read(self, what: str, call: Callable[[Any], Any], model: Any) -> Any:
        info, _ = self._sdk()
        return parse(model, self._retry(lambda: call(info), what), what)

    def close(self) -> None:
        if self._exchange is not None:
            self._exchange.session.close()
            self._info.session.close()

    # ---------------------------------------------------------------- market data
    def asset_specs(self) -> dict[str, AssetSpec]:
        self._sdk()
        assert self._specs is not None
        return dict(self._specs)

    def _spec(self, coin: str) -> AssetSpec:
        specs = self.asset_specs()
        if coin not in specs:
            raise VenueRejectedError(f"unknown coin {coin!r} on {self.base_url}; known: {', '.join(sorted(specs))}")
        return specs[coin]

    def market_snapshot(self) -> MarketSnapshot:
        info, _ = self._sdk()
        ctxs = self._retry(info.meta_and_asset_ctxs, "metaAndAssetCtxs")
        mids = self._retry(info.all_mids, "allMids")
        return MarketSnapshot(time_ms=self.now_ms(), mids=parse(wire.mids_from_wire, mids, "allMids"),
                              contexts=parse(wire.contexts_from_wire, ctxs, "metaAndAssetCtxs"))

    def candles(self, coin: str, interval: str, start_ms: int, end_ms: int) -> list[Candle]:
        self._spec(coin)
        rows = self._read("candleSnapshot", lambda i: i.candles_snapshot(coin, interval, start_ms, end_ms),
                          wire.rows(wire.CandleWire))
        return [wire.candle_from_wire(c) for c in rows]

    def funding_history(self, coin: str, start_ms: int, end_ms: int | None = None) -> list[FundingPoint]:
        if self._spec(coin).market_type is not MarketType.PERP:  # the venue answers HTTP 500 "null"
            raise VenueRejectedError(f"fundingHistory: {coin} is a spot pair; only perps have funding")
        rows = self._read("fundingHistory", lambda i: i.funding_history(coin, start_ms, end_ms),
                          wire.rows(wire.FundingHistoryWire))
        return [wire.funding_from_wire(f) for f in rows]

    def l2_book(self, coin: str) -> L2Book:
        self._spec(coin)
        return wire.book_from_wire(self._read("l2Book", lambda i: i.l2_snapshot(coin), wire.L2BookWire))

    def book_view(self, coin: str) -> BookView:
        return self.l2_book(coin).view()

    # ---------------------------------------------------------------- account
    def account_state(self) -> AccountState:
        perp = self._read("clearinghouseState", lambda i: i.user_state(self.user), wire.ClearinghouseStateWire)
        spot = self._read("spotClearinghouseState", lambda i: i.spot_user_state(self.user),
                          wire.SpotClearinghouseStateWire)
        return wire.account_from_wire(perp, spot, self._token_prices(spot))

    def _token_prices(self, spot: wire.SpotClearinghouseStateWire) -> dict[str, Decimal]:
        """Mids of the USDC pairs of the tokens held (one allMids read, only when a token is held)."""
        held = [b.coin for b in spot.balances if b.coin != "USDC" and b.total != 0]
        if not held:
            return {}
        info, _ = self._sdk()
        mids = self._retry(info.all_mids, "allMids")
        pairs = self._token_pairs
        return parse(lambda _: {t: to_decimal(mids[pairs[t]]) for t in held if t in pairs and pairs[t] in mids},
                     None, "allMids")

    def open_orders(self) -> list[OpenOrder]:
        rows = self._read("frontendOpenOrders", lambda i: i.frontend_open_orders(self.user),
                          wire.rows(wire.OpenOrderWire))
        return [wire.open_order_from_wire(o) for o in rows]

    def fills(self, start_ms: int | None = None) -> list[Fill]:
        if start_ms is None:
            call = lambda i: i.user_fills(self.user)  # noqa: E731
        else:
            call = lambda i: i.user_fills_by_time(self.user, start_ms)  # noqa: E731
        what = "userFills" if start_ms is None else "userFillsByTime"
        rows = self._read(what, call, wire.rows(wire.UserFillWire))
        return [wire.fill_from_wire(f, self.user) for f in rows]

    def order_status_by_cloid(self, cloid: str) -> str | None:
        from hyperliquid.utils.types import Cloid

        status = self._read("orderStatus", lambda i: i.query_order_by_cloid(self.user, Cloid(cloid)),
                            wire.OrderStatusWire)
        if status.status != "order" or status.order is None:
            return None
        return status.order.status

    # ---------------------------------------------------------------- actions
    def _send_l1(self, action: dict[str, Any], what: str, only_if_not_landed: bool) -> wire.ExchangeResponseWire:
        from hyperliquid.utils.signing import sign_l1_action

        def payload(nonce: int) -> dict[str, Any]:
            signature = sign_l1_action(self._wallet, action, self.vault_address, nonce, None, self.is_mainnet)
            return {"action": action, "nonce": nonce, "signature": signature,
                    "vaultAddress": self.vault_address, "expiresAfter": None}

        return self._post(payload, what, only_if_not_landed)

    def _post(self, payload: Callable[[int], dict[str, Any]], what: str, only_if_not_landed: bool
              ) -> wire.ExchangeResponseWire:
        """Sign and send an action; every attempt is signed anew with a fresh nonce. A resend of
        the same nonce after a failure that may have landed would be refused as a duplicate even
        when the first one never arrived, and a nonce refusal (another signer of this key took
        it) certainly did not land, so it is sent again with the next nonce."""
        _, exchange = self._sdk()

        def attempt() -> wire.ExchangeResponseWire:
            raw = exchange.post("/exchange", payload(self.nonces.next()))
            resp = parse(wire.ExchangeResponseWire, raw, what)
            if resp.status == "err":
                raise error_for_err_status(str(resp.response), what)
            return resp

        return self._retry(attempt, what, only_if_not_landed)

    def _statuses(self, resp: wire.ExchangeResponseWire, what: str) -> list[Any]:
        body = resp.response
        if not isinstance(body, wire.ResponseBodyWire) or not isinstance(body.data, dict):
            raise VenueResponseError(f"{what}: response has no statuses: {resp!r}")
        statuses = body.data.get("statuses")
        if not isinstance(statuses, list):
            raise VenueResponseError(f"{what}: response has no statuses list")
        return statuses

    def place_orders(self, orders: Sequence[ApprovedOrder]) -> list[OrderOutcome]:
        approved = require_approved(orders)
        if not approved:
            return []
        from hyperliquid.utils.signing import order_request_to_order_wire, order_wires_to_order_action

        wires = [order_request_to_order_wire(self._sdk_order(a.intent), self._spec(a.intent.coin).asset_id)
                 for a in approved]
        for a, w in zip(approved, wires):  # the floats must carry exactly our Decimals
            if Decimal(w["p"]) != a.intent.limit_price or Decimal(w["s"]) != a.intent.size:
                raise ValueError(f"{a.intent.coin}: price/size changed on the way to the wire: {w}")
        action = order_wires_to_order_action(wires, None, "na")
        resp = self._send_l1(action, "order", only_if_not_landed=True)
        statuses = self._statuses(resp, "order")
        if len(statuses) == 1 and len(approved) > 1 and isinstance(statuses[0], dict) and "error" in statuses[0]:
            statuses = statuses * len(approved)  # a batch-level pre-validation error applies to every order
        if len(statuses) != len(approved):
            raise VenueResponseError(f"order: {len(statuses)} statuses for {len(approved)} orders")
        outcomes: list[OrderOutcome] = []
        for a, s in zip(approved, statuses):
            try:
                out = wire.outcome_from_wire(s)
            except ValidationError as exc:
                raise VenueResponseError(f"order: unreadable status {wire.short(s)}: {wire.describe(exc)}") from None
            except (ValueError, TypeError) as exc:
                raise VenueResponseError(f"order: unreadable status {wire.short(s)}: {exc}") from None
            if isinstance(out, (Resting, Filled)) and out.cloid is None and a.intent.cloid is not None:
                out = out.model_copy(update={"cloid": a.intent.cloid})
            outcomes.append(out)
        return outcomes

    def _sdk_order(self, intent: OrderIntent) -> dict[str, Any]:
        """An SDK OrderRequest; floats appear only here, from already-valid Decimals."""
        from hyperliquid.utils.types import Cloid

        spec = self._spec(intent.coin)
        if not is_valid_size(intent.size, spec.sz_decimals):
            raise ValueError(f"{intent.coin}: size {intent.size} is not a multiple of 10^-{spec.sz_decimals}; "
                             "round it with domain.round_size before approval")
        if not is_valid_price(intent.limit_price, spec.sz_decimals, spec.market_type):
            raise ValueError(f"{intent.coin}: limit price {intent.limit_price} exceeds the venue's precision; "
                             "round it with domain.round_price before approval")
        order_type: dict[str, Any]
        if intent.trigger is not None:
            trg = intent.trigger
            if not is_valid_price(trg.trigger_price, spec.sz_decimals, spec.market_type):
                raise ValueError(f"{intent.coin}: trigger price {trg.trigger_price} exceeds the venue's precision")
            order_type = {"trigger": {"triggerPx": float(trg.trigger_price), "isMarket": trg.is_market,
                                      "tpsl": trg.tpsl.value}}
        else:
            order_type = {"limit": {"tif": intent.tif.value}}
        req: dict[str, Any] = {"coin": intent.coin, "is_buy": intent.side.sign > 0, "sz": float(intent.size),
                               "limit_px": float(intent.limit_price), "order_type": order_type,
                               "reduce_only": intent.reduce_only}
        if intent.cloid is not None:
            req["cloid"] = Cloid(intent.cloid)
        return req

    def _cancel(self, action: dict[str, Any], what: str) -> bool:
        statuses = self._statuses(self._send_l1(action, what, only_if_not_landed=False), what)
        return bool(statuses) and statuses[0] == "success"

    def cancel(self, coin: str, oid: int) -> bool:
        return self._cancel({"type": "cancel", "cancels": [{"a": self._spec(coin).asset_id, "o": oid}]}, "cancel")

    def cancel_by_cloid(self, coin: str, cloid: str) -> bool:
        action = {"type": "cancelByCloid", "cancels": [{"asset": self._spec(coin).asset_id, "cloid": cloid}]}
        return self._cancel(action, "cancelByCloid")

    def set_leverage(self, coin: str, leverage: int, is_cross: bool = True) -> None:
        action = {"type": "updateLeverage", "asset": self._spec(coin).asset_id, "isCross": is_cross,
                  "leverage": int(leverage)}
        self._send_l1(action, "updateLeverage", only_if_not_landed=False)

    def schedule_cancel(self, time_ms: int | None) -> None:
        action: dict[str, Any] = {"type": "scheduleCancel"}
        if time_ms is not None:
            action["time"] = int(time_ms)
        self._send_l1(action, "scheduleCancel", only_if_not_landed=False)

    def transfer_usd(self, amount: Decimal, to_perp: bool) -> None:
        """Move USDC between the spot and perp wallets (signed by the account's own key)."""
        from hyperliquid.utils.signing import sign_usd_class_transfer_action

        if amount <= 0:
            raise ValueError(f"transfer amount must be positive, got {amount}")
        if self.account_address.lower() != self.signer_address.lower():
            # A user-signed action moves the signer's own money: an agent's signature would be
            # refused as an unknown user, or move the agent address's funds, never the master's.
            raise VenueAuthError(
                f"usdClassTransfer: hyperliquid.secret_key is an agent (API) wallet trading for "
                f"{self.account_address}; an agent cannot move the master's USDC between spot and perp. "
                "Move it with the master account's own key or in the Hyperliquid app; nothing was sent")
        text = format(amount, "f")
        if self.vault_address:
            text += f" subaccount:{self.vault_address}"

        def payload(nonce: int) -> dict[str, Any]:
            action = {"type": "usdClassTransfer", "amount": text, "toPerp": to_perp, "nonce": nonce}
            signature = sign_usd_class_transfer_action(self._wallet, action, self.is_mainnet)
            return {"action": action, "nonce": nonce, "signature": signature, "vaultAddress": None,
                    "expiresAfter": None}

        self._post(payload, "usdClassTransfer", only_if_not_landed=True)
