"""`decimal_text`: the one Decimal-to-text rule of records, prompts and log lines, and dollars for tables."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, strategies as st

from hyperliquid_agent.decimal_text import plain_text, usd_text


def test_trailing_zeros_exponents_and_negative_zero_are_written_plainly():
    assert plain_text(D("10100.500")) == "10100.5"
    assert plain_text(D("1E+2")) == "100"
    assert plain_text(D("0E-8")) == "0" and plain_text(D("-0.0")) == "0"
    assert plain_text(D("5"), signed=True) == "+5" and plain_text(D("-0.25"), signed=True) == "-0.25"
    assert plain_text(D(0), signed=True) == "0"


@given(st.decimals(allow_nan=False, allow_infinity=False, places=8, min_value=-10**12, max_value=10**12))
def test_the_text_reads_back_as_the_same_number_with_no_exponent(d):
    text = plain_text(d)
    assert D(text) == d and "E" not in text.upper()
    assert text == "0" or not (text.endswith("0") and "." in text)


def test_usd_text_puts_the_sign_before_the_dollar():
    assert usd_text(D("-7056.314")) == "-$7,056.31"
    assert usd_text(D("10002.285")) == "$10,002.28"  # half-even, as format() rounds a Decimal
    assert usd_text(D("0.00012"), 4) == "$0.0001"
    assert usd_text(D("-0.001")) == "-$0.00"  # a loss under a cent still reads as a loss
