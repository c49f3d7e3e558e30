"""What the emulator does for each `/info` request type and each `/exchange` action.

Called by `EmulatorServer.handle` with the server lock held and the model already advanced
to the current simulated time. Info answers are `(http_status, json)`; exchange answers are
the venue's JSON envelope (always HTTP 200, like the real venue).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from hyperliquid_agent.domain import Filled, MarketType, Resting, Tif, TpSl
from hyperliquid_agent.exchange import wire
from hyperliquid_agent.exchange.feed import INTERVAL_MS
from hyperliquid_agent.exchange.venue_types import ERR_INVALID_PRICE, ERR_INVALID_SIZE, ERR_TPSL, LimitType, OrderRequest, TriggerType

if TYPE_CHECKING:
    from hyperliquid_agent.exchange.emulator import EmulatorServer

CANDLE_CAP = 5000  # candleSnapshot serves only the most recent 5000 candles of an interval
FUNDING_CAP = 500  # fundingHistory / userFunding rows per request
FILLS_CAP = 2000
DESERIALIZE_ERROR = "Failed to deserialize the JSON body into the target type"
# The intervals the venue knows (an unknown one is a body it cannot read); the emulator serves
# those at least as coarse as its data's bars, except the calendar month.
VENUE_INTERVALS = (*INTERVAL_MS, "1M")
ERR_EXPIRED = "Action already expired"  # an L1 action whose expiresAfter (ms) is in the past
SCHEDULE_CANCEL_LEAD_MS = 5_000  # a scheduleCancel time must be at least this far ahead
ERR_SCHEDULE_TOO_EARLY = "Scheduled cancel time too early, must be at least 5 seconds from now."


# ====================================================================== /info


def _newest_first(order: Any) -> tuple[int, int]:
    return -order.timestamp_ms, -order.oid


def _user(body: dict[str, Any]) -> str:
    return str(body.get("user", "")).lower()


def _clearinghouse(model: Any, user: str) -> dict[str, Any]:
    known = model.has_account(user)
    ms = model.margin_summary(user)
    positions = model.account_state(user).positions if known else ()
    return wire.clearinghouse_to_wire(
        positions, account_value=ms.account_value, total_margin_used=ms.total_margin_used,
        total_ntl=ms.total_notional, total_raw_usd=ms.total_raw_usd, withdrawable=ms.withdrawable,
        time_ms=model.now_ms, maintenance_margin=ms.maintenance_margin,
        max_leverage={name: s.max_leverage for name, s in model.specs.items()})


def info(server: "EmulatorServer", body: dict[str, Any]) -> tuple[int, Any]:
    model = server.model
    kind = body.get("type")
    specs = model.specs
    match kind:
        case "meta":
            return 200, wire.meta_to_wire(specs)
        case "spotMeta":
            return 200, wire.spot_meta_to_wire(model.spot)
        case "metaAndAssetCtxs":
            ctxs = model.asset_contexts()
            meta = wire.meta_to_wire(specs)
            return 200, [meta, [wire.asset_ctx_to_wire(ctxs[a["name"]]) for a in meta["universe"]]]
        case "allMids":
            return 200, wire.mids_to_wire(model.mids())
        case "clearinghouseState":
            return 200, _clearinghouse(model, _user(body))
        case "spotClearinghouseState":
            user = _user(body)
            balances = model.spot_balances(user) if model.has_account(user) else []
            return 200, wire.spot_state_to_wire(list(balances), {p.token: p.token_index for p in model.spot})
        case "l2Book":
            coin = body.get("coin")
            grouping = _book_grouping(body)
            if grouping is None:
                return 422, DESERIALIZE_ERROR
            if coin not in specs:
                return 500, "null"
            book = wire.book_to_wire(model.l2_book(coin))
            if grouping != (None, None):
                book["levels"] = [aggregate_levels(book["levels"][0], *grouping, bids=True),
                                  aggregate_levels(book["levels"][1], *grouping, bids=False)]
            return 200, book
        case "candleSnapshot":
            return _candles(model, body.get("req"))
        case "fundingHistory":
            coin = body.get("coin")
            if not _is_int(body.get("startTime")) or not _is_int(body.get("endTime"), optional=True):
                return 422, DESERIALIZE_ERROR  # the venue cannot read the body (startTime is required)
            perp = coin in specs and specs[coin].market_type is MarketType.PERP  # spot pairs have no funding
            if not perp:
                return 500, "null"
            rows = model.funding_history(coin, body["startTime"], body.get("endTime"))
            return 200, [wire.funding_to_wire(coin, f) for f in rows[:FUNDING_CAP]]
        case "userFills" | "userFillsByTime":
            user = _user(body)
            if kind == "userFillsByTime" and not (_is_int(body.get("startTime"))
                                                  and _is_int(body.get("endTime"), optional=True)):
                return 422, DESERIALIZE_ERROR
            start = body.get("startTime") if kind == "userFillsByTime" else None
            fills = list(model.fills(user, start)) if model.has_account(user) else []
            if kind == "userFillsByTime" and body.get("endTime") is not None:
                fills = [f for f in fills if f.time_ms <= body["endTime"]]
            fills = sorted(fills, key=lambda f: f.time_ms, reverse=True)[:FILLS_CAP]
            return 200, [wire.fill_to_wire(f, user) for f in fills]
        case "openOrders" | "frontendOpenOrders":
            user = _user(body)
            orders = list(model.open_orders(user)) if model.has_account(user) else []
            orders.sort(key=_newest_first)  # as the venue lists them (the recorded responses: newest first)
            return 200, [wire.open_order_to_wire(o, frontend=kind == "frontendOpenOrders") for o in orders]
        case "orderStatus":
            return 200, _order_status(model, _user(body), body.get("oid"))
        case "userFunding":
            user, start, end = _user(body), body.get("startTime"), body.get("endTime")
            if not _is_int(start) or not _is_int(end, optional=True):
                return 422, DESERIALIZE_ERROR  # startTime is required, both are integer ms
            rows = model.user_funding(user, start, end)[:FUNDING_CAP]
            return 200, [wire.user_funding_to_wire(p.time_ms, p.coin, p.usdc, p.szi, p.rate) for p in rows]
        case str() if kind in VENUE_ONLY_INFO:
            return 400, (f"{kind}: the local emulator does not serve this request (the venue does); "
                         f"it serves {', '.join(SERVED_INFO)}")
        case _:
            return 422, DESERIALIZE_ERROR


# Info types the emulator answers, and real ones it does not (so a script calling, say,
# Info.user_fees gets told that, not the venue's "cannot deserialize" for a made-up type).
SERVED_INFO = ("meta", "spotMeta", "metaAndAssetCtxs", "allMids", "clearinghouseState", "spotClearinghouseState",
               "l2Book", "candleSnapshot", "fundingHistory", "userFills", "userFillsByTime", "openOrders",
               "frontendOpenOrders", "orderStatus", "userFunding")
VENUE_ONLY_INFO = frozenset((
    "spotMetaAndAssetCtxs", "perpDexs", "userFees", "historicalOrders", "userRateLimit", "portfolio",
    "userNonFundingLedgerUpdates", "extraAgents", "subAccounts", "userRole", "userTwapSliceFills",
    "delegatorHistory", "userVaultEquities", "activeAssetData", "exchangeStatus", "predictedFundings",
    "referral", "vaultDetails", "delegations", "delegatorSummary", "delegatorRewards", "maxBuilderFee",
    "tokenDetails", "spotDeployState", "perpsAtOpenInterestCap", "liquidatable", "maxMarketOrderNtls",
))


def _is_int(value: Any, optional: bool = False) -> bool:
    """A field the venue reads as an integer (times in ms, nSigFigs): JSON true/false or 1.5e12
    are not one; when optional, absent/null also passes."""
    return (value is None and optional) or (isinstance(value, int) and not isinstance(value, bool))


def _book_grouping(body: dict[str, Any]) -> tuple[int | None, int | None] | None:
    """l2Book's optional `nSigFigs` (2-5) and `mantissa` (1, 2 or 5, with nSigFigs 5 only), or
    None when the venue could not take them."""
    n_sig, mantissa = body.get("nSigFigs"), body.get("mantissa")
    if n_sig is not None and (not _is_int(n_sig) or not 2 <= n_sig <= 5):
        return None
    if mantissa is not None and (n_sig != 5 or not _is_int(mantissa) or mantissa not in (1, 2, 5)):
        return None
    return n_sig, mantissa


def aggregate_levels(levels: list[dict[str, Any]], n_sig: int | None, mantissa: int | None,
                     bids: bool) -> list[dict[str, Any]]:
    """One side of a book grouped to `n_sig` significant figures (in steps of `mantissa` at the
    last one) as the venue does for `l2Book` with `nSigFigs`: bids round down, asks up, and the
    sizes and order counts of the levels that land on one price add up."""
    if n_sig is None:
        return levels
    out: list[dict[str, Any]] = []
    for level in levels:
        px = Decimal(level["px"])
        step = Decimal(mantissa or 1).scaleb(px.adjusted() - n_sig + 1)
        units = (px / step).to_integral_value(rounding=ROUND_FLOOR if bids else ROUND_CEILING)
        bucket = wire.dec((units * step).normalize())
        if out and out[-1]["px"] == bucket:
            last = out[-1]
            last["sz"] = wire.dec(Decimal(last["sz"]) + Decimal(level["sz"]))
            last["n"] += level["n"]
        else:
            out.append({"px": bucket, "sz": level["sz"], "n": level["n"]})
    return out


def _candles(model: Any, req: Any) -> tuple[int, Any]:
    if not isinstance(req, dict):
        return 422, DESERIALIZE_ERROR
    coin, interval = req.get("coin"), req.get("interval")
    start, end = req.get("startTime"), req.get("endTime")
    if not _is_int(start) or not _is_int(end, optional=True) or interval not in VENUE_INTERVALS:
        return 422, DESERIALIZE_ERROR
    if coin not in model.specs:
        return 500, "null"
    data_ms = model.feed.interval_ms
    if INTERVAL_MS.get(interval, 0) < data_ms or interval == "1M":
        served = ", ".join(name for name, ms in INTERVAL_MS.items() if ms >= data_ms)
        return 400, (f"candleSnapshot: the local emulator builds candles from its data's "
                     f"{data_ms // 60_000}m bars, so it serves {served}, not {interval}")
    end = end if end is not None else model.now_ms
    # The venue keeps only the most recent 5000 candles of an interval: an older range answers
    # with what of it lies within the last 5000 intervals, or nothing (not the history it asked for).
    horizon = model.now_ms - CANDLE_CAP * INTERVAL_MS[interval]
    rows = model.candles(coin, interval, max(start, horizon), end)[-CANDLE_CAP:]
    return 200, [wire.candle_to_wire(coin, interval, c) for c in rows]


def _order_status(model: Any, user: str, oid: Any) -> dict[str, Any]:
    if not model.has_account(user):
        return {"status": "unknownOid"}
    if isinstance(oid, str):
        found = model.order_status(user, cloid=oid)
    elif isinstance(oid, int):
        found = model.order_status(user, oid=oid)
    else:
        return {"status": "unknownOid"}
    if found is None:
        return {"status": "unknownOid"}
    return wire.order_status_to_wire(found.order, found.status, found.status_time_ms)


# ====================================================================== /exchange

L1_ACTIONS = ("order", "cancel", "cancelByCloid", "updateLeverage", "scheduleCancel")
# User-signed actions: EIP-712 type of each (the SDK inlines the approveAgent fields in sign_agent).
APPROVE_AGENT_SIGN_TYPES = [
    {"name": "hyperliquidChain", "type": "string"},
    {"name": "agentAddress", "type": "address"},
    {"name": "agentName", "type": "string"},
    {"name": "nonce", "type": "uint64"},
]
USER_SIGNED = {"usdClassTransfer": "HyperliquidTransaction:UsdClassTransfer",
               "approveAgent": "HyperliquidTransaction:ApproveAgent"}


def _amount(action: dict[str, Any]) -> Decimal | None:
    """usdClassTransfer's amount ("5.0", or the SDK's "5.0 subaccount:0x.." form), None if unreadable."""
    try:
        amount = Decimal(str(action.get("amount", "")).split(" ")[0])
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def malformed(action: dict[str, Any]) -> bool:
    """A body the venue cannot deserialize into its action type (it answers HTTP 422 before
    looking at the signature): orders or cancels that are not lists of objects, an order type
    that is not an object, a cloid that is not 0x + 32 hex digits, a transfer amount that is not
    a number, a scheduleCancel time that is not integer ms."""
    kind = action.get("type")
    if kind == "order":
        orders = action.get("orders")
        return not isinstance(orders, list) or not orders or not all(
            isinstance(w, dict) and isinstance(w.get("t", {}), dict) and (w.get("c") is None or wire.is_cloid(w["c"]))
            for w in orders)
    if kind in ("cancel", "cancelByCloid"):
        cancels = action.get("cancels")
        return not isinstance(cancels, list) or not all(
            isinstance(c, dict) and (kind == "cancel" or wire.is_cloid(c.get("cloid"))) for c in cancels)
    if kind == "usdClassTransfer":
        return _amount(action) is None
    if kind == "scheduleCancel":
        return not _is_int(action.get("time"), optional=True)
    return False


def exchange(server: "EmulatorServer", body: dict[str, Any]) -> dict[str, Any]:
    """The venue's answer to one action (the caller has answered HTTP 422 to a `malformed` one)."""
    from hyperliquid.utils import signing  # the SDK's own recovery, so signing bugs show up here

    action = body["action"]
    kind = action.get("type")
    nonce = body.get("nonce")
    sig = body.get("signature")
    vault = body.get("vaultAddress")
    if kind == "usdClassTransfer" and " subaccount:" in str(action.get("amount", "")):
        vault = str(action["amount"]).split(" subaccount:", 1)[1].strip()  # the SDK's vault form
    if not isinstance(nonce, int) or not isinstance(sig, dict):
        return wire.err_response(DESERIALIZE_ERROR)
    try:
        if kind in USER_SIGNED:
            types = signing.USD_CLASS_TRANSFER_SIGN_TYPES
            signed = dict(action)
            if kind == "approveAgent":  # the SDK signs agentName "" but drops an empty name from the body
                types, signed = APPROVE_AGENT_SIGN_TYPES, {"agentName": "", **action}
            signer = signing.recover_user_from_user_signed_action(signed, sig, types, USER_SIGNED[kind], False)
        elif kind in L1_ACTIONS:
            signer = signing.recover_agent_or_user_from_l1_action(
                action, sig, body.get("vaultAddress"), nonce, body.get("expiresAfter"), False)
        else:
            return wire.err_response(f"Unsupported action type {kind!r} on the local emulator")
    except Exception:  # a malformed signature recovers nothing: the venue says "does not exist"
        signer = "0x" + "0" * 40
    signer = signer.lower()
    principal = _resolve_user(server, signer, agent_allowed=kind not in USER_SIGNED)
    if principal is None:
        return wire.err_response(f"User or API Wallet {signer} does not exist.")
    user = principal
    if vault:
        if principal not in server.vault_leaders.get(str(vault).lower(), set()):
            return wire.err_response(f"User or API Wallet {signer} does not exist.")
        user = str(vault).lower()
    if not server.model.has_account(user):
        return wire.err_response(f"Must deposit before performing actions. User: {user}")
    now = server.wall_ms()
    expires = body.get("expiresAfter")
    if kind in L1_ACTIONS and isinstance(expires, int) and expires < now:
        return wire.err_response(ERR_EXPIRED)
    problem = server.nonces.check_and_record(signer, nonce, now)
    if problem is not None:
        return wire.err_response(problem)
    model = server.model
    match kind:
        case "order":
            if action.get("grouping") == "normalTpsl" and len(action["orders"]) > 1:
                return _place_bracket(server, user, action)
            return _place(model, user, action)
        case "cancel":
            return _cancel(model, user, action, by_cloid=False)
        case "cancelByCloid":
            return _cancel(model, user, action, by_cloid=True)
        case "updateLeverage":
            spec = _spec_by_asset(model, action.get("asset"))
            if spec is None:
                return wire.err_response("Invalid asset.")
            problem = model.update_leverage(user, spec.name, action.get("leverage"), bool(action.get("isCross", True)))
            return wire.err_response(problem) if problem else wire.ok_response("default")
        case "usdClassTransfer":
            amount = _amount(action)
            if amount is None:
                return wire.err_response(DESERIALIZE_ERROR)
            problem = model.usd_class_transfer(user, amount, bool(action.get("toPerp")))
            return wire.err_response(problem) if problem else wire.ok_response("default")
        case "approveAgent":
            agent = action.get("agentAddress")
            if not isinstance(agent, str) or not agent.startswith("0x") or len(agent) != 42:
                return wire.err_response(DESERIALIZE_ERROR)
            server.register_agent(agent, user, str(action.get("agentName") or ""))
            return wire.ok_response("default")
        case "scheduleCancel":
            t = action.get("time")  # an integer or absent (`malformed` saw to that)
            if t is not None and t < model.now_ms + SCHEDULE_CANCEL_LEAD_MS:  # the simulated clock's now
                return wire.err_response(ERR_SCHEDULE_TOO_EARLY)
            problem = model.schedule_cancel(user, t)
            return wire.err_response(problem) if problem else wire.ok_response("default")
    return wire.err_response(f"Unsupported action type {kind!r} on the local emulator")


def _resolve_user(server: "EmulatorServer", signer: str, agent_allowed: bool) -> str | None:
    if agent_allowed and signer in server.agents:
        return server.agents[signer]
    if server.model.has_account(signer) or signer in _leaders(server):
        return signer
    return None


def _leaders(server: "EmulatorServer") -> set[str]:
    return set().union(*server.vault_leaders.values()) if server.vault_leaders else set()


def _spec_by_asset(model: Any, asset: Any) -> Any:
    if not isinstance(asset, int):
        return None
    for spec in model.specs.values():
        if spec.asset_id == asset:
            return spec
    return None


def order_from_wire(model: Any, w: dict[str, Any]) -> OrderRequest | str:
    """One order wire {a,b,p,s,r,t,c} -> the model's OrderRequest, or the venue's error string."""
    spec = _spec_by_asset(model, w.get("a"))
    if spec is None:
        return "Invalid asset."
    try:
        price, size = Decimal(str(w["p"])), Decimal(str(w["s"]))
    except (KeyError, InvalidOperation):
        return ERR_INVALID_PRICE
    if not price.is_finite() or price <= 0:
        return ERR_INVALID_PRICE
    if not size.is_finite() or size <= 0:
        return ERR_INVALID_SIZE
    t = w.get("t") or {}
    order_type: LimitType | TriggerType
    if isinstance(t.get("limit"), dict):
        try:
            order_type = LimitType(Tif(t["limit"].get("tif")))
        except ValueError:
            return "Invalid TIF."
    elif isinstance(t.get("trigger"), dict):
        trg = t["trigger"]
        try:
            order_type = TriggerType(Decimal(str(trg["triggerPx"])), bool(trg["isMarket"]), TpSl(trg["tpsl"]))
        except (KeyError, ValueError, InvalidOperation):
            return ERR_TPSL
    else:
        return "Invalid order type."
    cloid = w.get("c")
    return OrderRequest(coin=spec.name, is_buy=bool(w.get("b")), limit_px=price, sz=size,
                        reduce_only=bool(w.get("r")), order_type=order_type,
                        cloid=str(cloid) if cloid is not None else None)


def _place(model: Any, user: str, action: dict[str, Any]) -> dict[str, Any]:
    wires = action.get("orders")
    if not isinstance(wires, list) or not wires:
        return wire.err_response(DESERIALIZE_ERROR)
    parsed = [order_from_wire(model, w) if isinstance(w, dict) else "Invalid order." for w in wires]
    valid = [p for p in parsed if isinstance(p, OrderRequest)]
    outcomes = iter(model.place_orders(user, valid) if valid else [])
    statuses = []
    for p in parsed:
        statuses.append({"error": p} if isinstance(p, str) else wire.outcome_to_wire(next(outcomes)))
    return wire.ok_response("order", {"statuses": statuses})


ERR_PARENT_REJECTED = "Order was not placed: its parent order (the first of the normalTpsl group) was rejected."


def _place_bracket(server: "EmulatorServer", user: str, action: dict[str, Any]) -> dict[str, Any]:
    """grouping "normalTpsl": the first order is the parent, the rest (its TP/SL) wait for it.
    As on the venue, a parent that rests leaves its children `"waitingForFill"`; they are placed
    once it has filled (`release_children`, when the emulator next serves a request) and dropped
    if it ends otherwise. A parent that fills at once has its children placed at once."""
    model = server.model
    parsed = [order_from_wire(model, w) for w in action["orders"]]
    parent, children = parsed[0], parsed[1:]
    if isinstance(parent, str):
        return wire.ok_response("order", {"statuses": [{"error": parent}]
                                          + [{"error": ERR_PARENT_REJECTED} for _ in children]})
    (outcome,) = model.place_orders(user, [parent])
    statuses: list[Any] = [wire.outcome_to_wire(outcome)]
    valid = [c for c in children if isinstance(c, OrderRequest)]
    if isinstance(outcome, Filled):
        placed = iter(model.place_orders(user, valid) if valid else [])
        statuses += [{"error": c} if isinstance(c, str) else wire.outcome_to_wire(next(placed)) for c in children]
    elif isinstance(outcome, Resting):
        if valid:
            server.pending_children[(user, outcome.oid)] = valid
        statuses += [{"error": c} if isinstance(c, str) else "waitingForFill" for c in children]
    else:
        statuses += [{"error": c if isinstance(c, str) else ERR_PARENT_REJECTED} for c in children]
    return wire.ok_response("order", {"statuses": statuses})


def release_children(server: "EmulatorServer") -> None:
    """Place the TP/SL children of normalTpsl parents that have filled; drop those whose parent
    ended any other way (canceled, margin-canceled, ...). Called with the lock held, the model
    advanced to the request's time."""
    model = server.model
    for (user, oid), children in list(server.pending_children.items()):
        found = model.order_status(user, oid=oid)
        status = found.status if found is not None else "canceled"
        if status == "open":
            continue
        del server.pending_children[(user, oid)]
        if status == "filled":
            model.place_orders(user, children)


def _cancel(model: Any, user: str, action: dict[str, Any], by_cloid: bool) -> dict[str, Any]:
    cancels = action.get("cancels")
    if not isinstance(cancels, list):
        return wire.err_response(DESERIALIZE_ERROR)
    statuses: list[Any] = []
    for c in cancels:
        spec = _spec_by_asset(model, c.get("asset") if by_cloid else c.get("a"))
        if spec is None:
            statuses.append({"error": "Invalid asset."})
            continue
        if by_cloid:
            done = model.cancel_by_cloid(user, spec.name, str(c.get("cloid")))
        else:
            done = model.cancel(user, spec.name, c.get("o"))
        statuses.append("success" if done is True or done is None else {
            "error": done if isinstance(done, str) else "Order was never placed, already canceled, or filled."})
    return wire.ok_response("cancel", {"statuses": statuses})


# ====================================================================== /emulator (operator door)


def admin(server: "EmulatorServer", body: Any) -> tuple[int, Any]:
    """`{"type":"clock"}`, `{"type":"createAccount","address","usdc"}`,
    `{"type":"registerAgent","agent","master"}`, `{"type":"step","ms"}`. Each answers with the
    simulated time (`nowMs`) and the close of the data's last bar (`endMs`)."""
    if not isinstance(body, dict):
        return 422, DESERIALIZE_ERROR
    kind = body.get("type")
    if kind == "clock":
        pass
    elif kind == "createAccount":
        address, usdc = body.get("address"), _amount({"amount": body.get("usdc")})
        if not wire.is_address(address):
            return 422, f"createAccount.address: {address!r} is not an address (0x and 40 hex digits)"
        if usdc is None or usdc < 0:
            return 422, f"createAccount.usdc: {body.get('usdc')!r} is not an amount of USDC (a number >= 0, e.g. \"10000\")"
        if not server.model.has_account(address.lower()):
            server.create_account(address, usdc)
    elif kind == "registerAgent":
        for field in ("agent", "master"):
            if not wire.is_address(body.get(field)):
                return 422, f"registerAgent.{field}: {body.get(field)!r} is not an address (0x and 40 hex digits)"
        server.register_agent(body["agent"], body["master"])
    elif kind == "step":
        ms = body.get("ms")
        if not _is_int(ms) or ms < 0:
            return 422, f"step.ms: {ms!r} is not a number of milliseconds >= 0 (the clock only moves forward)"
        server.step(ms)
    else:
        return 422, f"unknown operator request {kind!r}; use clock, createAccount, registerAgent or step"
    timeline = server.model.feed.timeline
    return 200, {"status": "ok", "nowMs": server.now_ms(), "endMs": timeline[-1] if timeline else None}
