"""An order filled on arrival keeps a short status record (its fill holds the rest, see
`matching.taken_record`): orderStatus still reports the whole record of the request."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from hyperliquid_agent.exchange import matching as m
from hyperliquid_agent.exchange.venue_types import OrderStatusInfo
from test_venue_model import ADDR, GTC, IOC, flat, model_for, req

flows = st.lists(st.tuples(st.booleans(), st.integers(min_value=1, max_value=30), st.booleans(), st.booleans(),
                           st.booleans()), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(flow=flows)
def test_the_status_of_an_order_filled_on_arrival_is_its_request_record(flow):
    model = model_for({"ETH": flat(2000)}, usdc="1000000")
    for k, (is_buy, tenths, reduce_only, gtc, with_cloid) in enumerate(flow):
        cloid = f"0x{k:032X}" if with_cloid else None  # upper case: the venue keeps it lowered
        r = req("ETH", is_buy, 2100 if is_buy else 1900, D(tenths) / 10, reduce_only, GTC if gtc else IOC, cloid)
        out = model.place_orders(ADDR, [r])[0]
        if out.status != "filled":  # (a reduce-only order with nothing to reduce)
            continue
        kept = cloid.lower() if cloid else None
        whole = m.request_record(ADDR, r, out.oid, kept, model.now_ms, "filled")
        expected = OrderStatusInfo(order=m.open_order(whole), status="filled", status_time_ms=model.now_ms)
        assert model.order_status(ADDR, oid=out.oid) == expected
        if cloid:
            assert model.order_status(ADDR, cloid=cloid) == expected
        assert model.order_status("0x" + "22" * 20, oid=out.oid) is None  # another account's order
