"""reply_json: the JSON reader every LLM reply goes through."""

import json
from decimal import Decimal

import pytest

from hyperliquid_agent.reply_json import ReplyJSONError, extract_object, loads_strict


def test_fractions_are_read_exactly_as_decimals_and_integers_stay_ints():
    value = loads_strict('{"target_pct": 12.50, "leverage": 3, "tiny": 1e-9, "rows": [0.1, 2]}')
    assert value == {"target_pct": Decimal("12.50"), "leverage": 3, "tiny": Decimal("1e-9"),
                     "rows": [Decimal("0.1"), 2]}
    assert type(value["leverage"]) is int


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_numbers_are_refused_with_a_message_that_says_how_to_write_numbers(constant):
    with pytest.raises(ReplyJSONError, match="plain decimal"):
        loads_strict(f'{{"target_pct": {constant}}}')
    with pytest.raises(ReplyJSONError, match=f"{constant.lstrip('-')} is not a number we accept"):
        extract_object(f'{{"target_pct": {constant}}}')


def test_a_byte_order_mark_is_refused_as_plain_json_refuses_it():
    with pytest.raises(json.JSONDecodeError):
        json.loads('\ufeff{"a": 1}')
    with pytest.raises(ReplyJSONError, match="BOM"):
        loads_strict('\ufeff{"a": 1}')


def test_one_reader_serves_many_replies_without_carrying_anything_between_them():
    replies = ['{"a": 1.5}', '[1, 2.25]', '"text"', '{"b": {"c": null}}', '{"a": 1.5}']
    assert [loads_strict(r) for r in replies] == [json.loads(r, parse_float=Decimal) for r in replies]
    with pytest.raises(ReplyJSONError, match="not valid JSON"):
        loads_strict('{"a": 1.5')
    assert loads_strict('{"a": 2.5}') == {"a": Decimal("2.5")}
