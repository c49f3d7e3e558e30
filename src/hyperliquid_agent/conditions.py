"""Machine-checkable conditions over signals, e.g. `funding_24h_avg < 0 and adx14 > 25`.

Strategies use them as invalidation triggers; the governor evaluates them against the
signals table each cycle. A tiny parser, no `eval`:

    expr       := and_expr ("or" and_expr)*
    and_expr   := term ("and" term)*
    term       := comparison | "(" expr ")"
    comparison := ref OP number | number OP ref
    ref        := NAME | COIN "." NAME          (NAME from signals.SIGNAL_NAMES or CROSS_SIGNAL_NAMES)
    OP         := "<" | "<=" | ">" | ">=" | "==" | "!="

A bare per-coin name (`funding_24h_avg`) refers to each of the coins the condition is
evaluated for; the whole condition is evaluated once per coin and is true when it holds
for ANY of them (so `ema_spread < -0.01 and adx14 > 25` needs both on the same coin).
A qualified name (`BTC.ret_24h`) always reads that coin; a cross-asset name
(`btc_eth_corr`) reads the "*" row. A missing or None value makes its comparison false.
Pure: no I/O.
"""

from __future__ import annotations

import operator
import re
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Union

from hyperliquid_agent.signals import CROSS_KEY, CROSS_SIGNAL_NAMES, SIGNAL_NAMES

SignalTable = Mapping[str, Mapping[str, "float | None"]]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_TOKEN = re.compile(
    r"\s*(?:(?P<num>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<op><=|>=|==|!=|<|>)"
    r"|(?P<paren>[()])"
    r"|(?P<ref>(?:[A-Za-z0-9_@:-]+\.)?[A-Za-z_][A-Za-z0-9_]*))"
)


class ConditionSyntaxError(ValueError):
    """The condition text does not follow the grammar or names an unknown signal."""


@dataclass(frozen=True, slots=True)
class SignalRef:
    name: str
    coin: str | None = None  # None: each evaluated coin (or "*" for cross-asset names)
    # the signals row it always reads ("*" for a cross-asset name, else its coin); None: the evaluated coin's
    row: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "row", CROSS_KEY if self.name in CROSS_SIGNAL_NAMES else self.coin)

    def read(self, signals: SignalTable, coin: str | None) -> float | None:
        key = self.row if self.row is not None else coin
        row = signals.get(key) if key is not None else None
        value = row.get(self.name) if row is not None else None
        if value is None or isinstance(value, bool):
            return None
        return float(value)

    def __str__(self) -> str:
        return f"{self.coin}.{self.name}" if self.coin else self.name


@dataclass(frozen=True, slots=True)
class Comparison:
    ref: SignalRef
    op: str
    value: float

    def holds(self, signals: SignalTable, coin: str | None) -> bool:
        x = self.ref.read(signals, coin)
        if x is None or x != x:  # None or NaN: not enough data, never fires
            return False
        return _OPS[self.op](x, self.value)

    def __str__(self) -> str:
        return f"{self.ref} {self.op} {self.value:g}"


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # "and" | "or"
    parts: tuple["Node", ...]

    def holds(self, signals: SignalTable, coin: str | None) -> bool:
        if self.op == "and":
            return all(p.holds(signals, coin) for p in self.parts)
        return any(p.holds(signals, coin) for p in self.parts)

    def __str__(self) -> str:
        return "(" + f" {self.op} ".join(str(p) for p in self.parts) + ")"


Node = Union[Comparison, BoolOp]


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed condition. Build with `parse_condition(text)`."""

    text: str
    root: Node
    refs: tuple[SignalRef, ...]
    # True when some reference depends on the evaluated coin (worked out once: checked every cycle)
    per_coin: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_coin", any(r.row is None for r in self.refs))

    def evaluate(self, signals: SignalTable, coins: Iterable[str] = ()) -> bool:
        """True when the condition holds for any of `coins` (once, if nothing is per coin)."""
        if not self.per_coin:
            return self.root.holds(signals, None)
        for c in coins:  # (a loop, not any() over a generator: every cycle runs this per trigger)
            if self.root.holds(signals, c):
                return True
        return False

    def matching_coins(self, signals: SignalTable, coins: Iterable[str]) -> list[str]:
        """The coins for which the condition holds (all of them when nothing is per coin)."""
        coins = list(coins)
        if not self.per_coin:
            return coins if self.root.holds(signals, None) else []
        return [c for c in coins if self.root.holds(signals, c)]

    def __str__(self) -> str:
        return self.text


def parse_condition(text: str) -> Condition:
    """Parse and validate a condition; raises ConditionSyntaxError saying what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ConditionSyntaxError("a condition must be a non-empty string such as 'funding_24h_avg < 0'")
    tokens = _tokenize(text)
    parser = _Parser(tokens, text)
    root = parser.expr()
    if parser.pos != len(tokens):
        raise ConditionSyntaxError(f"unexpected {tokens[parser.pos][1]!r} in {text!r}")
    refs: list[SignalRef] = []
    _collect(root, refs)
    return Condition(text=text.strip(), root=root, refs=tuple(dict.fromkeys(refs)))


@lru_cache(maxsize=256)
def cached_condition(text: str) -> Condition | None:
    """`parse_condition`, parsed once per text (a parsed Condition is immutable); None when
    unreadable. For conditions validated where they were written (a strategy file's triggers),
    checked again every cycle: an unreadable one never holds."""
    try:
        return parse_condition(text)
    except ConditionSyntaxError:
        return None


def first_holding(texts: Iterable[str], signals: SignalTable, coins: Iterable[str] = ()) -> str | None:
    """The first of `texts` that holds on `signals` for any of `coins` (see `Condition.evaluate`), else None."""
    coins = list(coins)
    for text in texts:
        cond = cached_condition(text)
        if cond is not None and cond.evaluate(signals, coins):
            return text
    return None


def _collect(node: Node, out: list[SignalRef]) -> None:
    if isinstance(node, Comparison):
        out.append(node.ref)
    else:
        for p in node.parts:
            _collect(p, out)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos, end = 0, len(text.rstrip())
    while pos < end:
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ConditionSyntaxError(f"cannot read {text[pos:].strip()[:20]!r} in {text!r}")
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "ref" and value.lower() in ("and", "or"):
            kind, value = "bool", value.lower()
        tokens.append((kind, value))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], text: str) -> None:
        self.tokens, self.text, self.pos = tokens, text, 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        tok = self._peek()
        if tok is None:
            raise ConditionSyntaxError(f"{self.text!r} ends too early; expected e.g. 'adx14 > 25'")
        self.pos += 1
        return tok

    def expr(self) -> Node:
        return self._chain("or", self.and_expr)

    def and_expr(self) -> Node:
        return self._chain("and", self.term)

    def _chain(self, word: str, sub: Callable[[], Node]) -> Node:
        parts = [sub()]
        while self._peek() == ("bool", word):
            self.pos += 1
            parts.append(sub())
        return parts[0] if len(parts) == 1 else BoolOp(word, tuple(parts))

    def term(self) -> Node:
        kind, value = self._take()
        if (kind, value) == ("paren", "("):
            node = self.expr()
            if self._take() != ("paren", ")"):
                raise ConditionSyntaxError(f"missing ')' in {self.text!r}")
            return node
        if kind == "ref":
            ref = _signal_ref(value, self.text)
            op = self._op()
            return Comparison(ref, op, self._number())
        if kind == "num":
            number = float(value)
            op = self._op()
            k2, v2 = self._take()
            if k2 != "ref":
                raise ConditionSyntaxError(f"{self.text!r}: compare a signal name with a number, got {v2!r}")
            return Comparison(_signal_ref(v2, self.text), _FLIP[op], number)
        raise ConditionSyntaxError(f"unexpected {value!r} in {self.text!r}; expected a signal name")

    def _op(self) -> str:
        kind, value = self._take()
        if kind != "op":
            raise ConditionSyntaxError(f"expected a comparison (<, <=, >, >=, ==, !=) before {value!r} in {self.text!r}")
        return value

    def _number(self) -> float:
        kind, value = self._take()
        if kind != "num":
            raise ConditionSyntaxError(f"expected a number after the comparison, got {value!r} in {self.text!r}")
        return float(value)


def _signal_ref(token: str, text: str) -> SignalRef:
    coin, _, name = token.rpartition(".")
    if name in SIGNAL_NAMES:
        return SignalRef(name=name, coin=coin or None)
    if name in CROSS_SIGNAL_NAMES:
        if coin and coin != CROSS_KEY:
            raise ConditionSyntaxError(f"{name} is a cross-asset signal; write it without a coin in {text!r}")
        return SignalRef(name=name)
    raise ConditionSyntaxError(
        f"unknown signal {name!r} in {text!r}; known signals: {', '.join(SIGNAL_NAMES + CROSS_SIGNAL_NAMES)}"
    )


__all__ = ["BoolOp", "Comparison", "Condition", "ConditionSyntaxError", "SignalRef", "cached_condition", "first_holding",
           "parse_condition"]
