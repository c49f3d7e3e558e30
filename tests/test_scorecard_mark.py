"""Scorecard.mark's fast path (no division at the plan's peak) against the plain definition."""

from decimal import Decimal

from hypothesis import given, strategies as st

from hyperliquid_agent.governance.plan import pct_below
from hyperliquid_agent.governance.scorekeeper import Scorecard

equities = st.decimals(min_value=Decimal("-100"), max_value=Decimal("20000"), places=4, allow_nan=False,
                       allow_infinity=False)


class _PlainCard:
    """The mark as defined: drawdown from the peak of the marks, the worst one kept."""

    def __init__(self, start: Decimal) -> None:
        self.last_equity = self.peak_equity = start
        self.max_drawdown_pct = Decimal(0)

    def mark(self, equity: Decimal) -> Decimal:
        self.last_equity = equity
        if equity > self.peak_equity:
            self.peak_equity = equity
        drawdown = max(pct_below(self.peak_equity, self.last_equity), Decimal(0))
        self.max_drawdown_pct = max(self.max_drawdown_pct, drawdown)
        return drawdown


@given(start=equities.filter(lambda d: d != 0), marks=st.lists(equities, max_size=30))
def test_mark_gives_the_plain_definitions_drawdown_and_state(start, marks):
    card, plain = Scorecard("p", "s", 0, start), _PlainCard(start)
    for i, equity in enumerate(marks, 1):
        assert card.mark(equity, i) == plain.mark(equity)
        assert (str(card.last_equity), str(card.peak_equity), str(card.max_drawdown_pct)) == (
            str(plain.last_equity), str(plain.peak_equity), str(plain.max_drawdown_pct))
        assert card.last_ms == i
