"""Virtual-feature expressions (§3.6) and filters (§3.7): parsing, validation, result encodings.

Pure code. :func:`parse_expression` checks the syntax only (the dictionary parser calls it on
every ``expression=``); :func:`expression_encoding` checks an expression against its source
encoding and gives the encoding of its result, which the extract ``.dictionary`` file prints
(§9.5). :func:`parse_filter` parses a filter against its source encoding, parsing the values
with the source (field) encoding. Both produce small frozen trees for the evaluator (§8.4).

Every failure raises :class:`ivory.errors.DictionaryError` with a single message; the
dictionary validation (:func:`ivory.dictionary.validate_dictionary`) prefixes the feature.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NoReturn

from ivory import values
from ivory.encoding import Encoding, ListEncoding, PrimitiveEncoding, StructEncoding
from ivory.errors import DictionaryError, ValueParseError
from ivory.javanum import parse_java_int

PrimitiveValue = bool | int | float | str | dt.date
"""A parsed primitive: ``bool``, ``int`` (int and long), ``float``, ``str``, ``datetime.date``."""

_P = PrimitiveEncoding
_MAP = StructEncoding(())  # "map" results print as "()" (§3.6, §9.5)
_NULLARY = {
    "count": _P.LONG, "days_since_latest": _P.INT, "days_since_earliest": _P.INT,
    "mean_in_days": _P.DOUBLE, "mean_in_weeks": _P.DOUBLE, "maximum_in_days": _P.INT,
    "maximum_in_weeks": _P.INT, "minimum_in_days": _P.INT, "minimum_in_weeks": _P.INT,
    "count_days": _P.INT,
}  # fmt: skip
# Sub-expressions that take an optional trailing struct field.
_FIELDED = (
    "latest", "sum", "min", "max", "mean", "gradient", "std_dev", "count_unique", "num_flips",
    "count_by", "days_since", "days_since_latest_by", "days_since_earliest_by",
)  # fmt: skip
_INTERVAL_OPS = ("min", "max", "mean", "gradient", "std_dev")
_NUMERIC_RESULT = (_P.INT, _P.LONG, _P.DOUBLE)


@dataclass(frozen=True)
class Expression:
    """A parsed expression (§3.6).

    Attributes:
        name: The function, e.g. ``"count"``, ``"latestN"``, ``"sum_by"``, ``"inverse"``.
        args: Arguments other than the field, as text: ``latestN`` -> ``("2",)``,
            ``proportion`` -> ``("a",)``, ``quantile_in_days`` -> ``(k, q)``,
            ``proportion_by_time`` -> ``(start_hour, end_hour)``, ``interval`` -> ``("mean",)``,
            ``sum_by``/``count_by,<key>,<field>``/``latest_by`` -> ``(key,)``.
        field: The struct field the function reads (``sum,x``, ``sum_by,k,x``), or None.
        inner: The wrapped expression of ``inverse``, else None.
    """

    name: str
    args: tuple[str, ...] = ()
    field: str | None = None
    inner: Expression | None = None


def parse_expression(text: str) -> Expression:
    """Parse the syntax of an expression (§3.6), without looking at the source encoding.

    Tokens are split on ``,`` (empty tokens kept). A token after a sub-expression that takes
    a field is the field name (``count_unique,c``); ``inverse,`` re-parses the rest.

    Raises:
        DictionaryError: ``Unrecognised expression '<text>'``.
    """
    tokens = text.split(",")
    head, rest = tokens[0], tokens[1:]
    n = len(rest)
    if (head in _NULLARY or head == "union") and n == 0:
        return Expression(head)
    if head in ("sum_by", "count_by") and n == 2:
        return Expression(head, (rest[0],), rest[1])
    if head == "latest_by" and n == 1:
        return Expression(head, (rest[0],))
    if head in _FIELDED and n <= 1:
        return Expression(head, (), rest[0] if rest else None)
    ints = [parse_java_int(t) for t in rest]
    if head in ("proportion", "latestN") and n in (1, 2):
        if head == "proportion" or ints[0] is not None:
            return Expression(head, (rest[0],), rest[1] if n == 2 else None)
    elif head in ("quantile_in_days", "quantile_in_weeks") and n == 2:
        if None not in ints:
            return Expression(head, tuple(rest))
    elif head == "proportion_by_time" and n == 2 and all(h in range(24) for h in ints):
        return Expression(head, tuple(rest))
    if head == "interval" and n == 1 and rest[0] in _FIELDED:
        return Expression(head, (rest[0],))
    if head == "inverse" and n >= 1:
        try:
            return Expression(head, inner=parse_expression(",".join(rest)))
        except DictionaryError:
            pass
    raise DictionaryError(f"Unrecognised expression '{text}'")


def expression_encoding(expr: Expression, source: Encoding) -> Encoding:
    """Check ``expr`` against its source encoding and return its result encoding (§3.6, §9.5).

    Maps (``count_by``, ``sum_by``, ``*_by``) give the empty struct ``()``;
    ``latestN,2`` on a string gives ``[string]``; an int ``sum`` gives ``int`` (the value is
    computed as a long, §8.4, but the ``.dictionary`` file says ``int``).

    AMBIGUOUS: §3.6 calls the result of ``latest_by`` a "list of structs (``()``)"; this
    returns ``()`` (upstream's ``expressionEncoding`` gives ``StructEncoding(Map())``), so the
    ``.dictionary`` file prints ``()`` for it.

    Raises:
        DictionaryError: the reason, e.g. ``Non-numeric encoding not supported``.
    """
    name = expr.name
    if name == "inverse":
        assert expr.inner is not None
        if expression_encoding(expr.inner, source) not in _NUMERIC_RESULT:
            _fail("Non numeric encoding for inverse")
        return _P.DOUBLE
    if name == "union":
        if isinstance(source, ListEncoding) and source.element in (_P.STRING, _P.INT, _P.DATE):
            return source
        _fail("union requires a list of string, int or date")
    if name in _NULLARY:
        return _NULLARY[name]
    if name in ("quantile_in_days", "quantile_in_weeks", "proportion_by_time"):
        return _P.DOUBLE
    if name == "interval":
        if expr.args[0] not in _INTERVAL_OPS:
            _fail(f"Non-supported interval sub expression '{expr.args[0]}'")
        return _P.LONG if expr.args[0] in ("min", "max") else _P.DOUBLE
    if name in ("sum_by", "count_by", "latest_by") and expr.args:
        return _keyed_encoding(expr, source)
    if expr.field is not None:
        if not isinstance(source, StructEncoding):
            _fail("Expression with a field not supported")
        f = source.field(expr.field)
        if f is None:
            _fail(f"Struct field not found '{expr.field}'")
        return _sub_encoding(expr, f.encoding)
    if isinstance(source, PrimitiveEncoding):
        return _sub_encoding(expr, source)
    if name == "latest" or (name == "latestN" and isinstance(source, StructEncoding)):
        return _sub_encoding(expr, source)
    kind = "Struct" if isinstance(source, StructEncoding) else "List"
    _fail(f"{kind} encoding not supported for the given expression")


def _sub_encoding(expr: Expression, enc: Encoding) -> Encoding:
    name = expr.name
    if name == "latest":
        return enc
    if name == "latestN":
        if int(expr.args[0]) <= 0:
            _fail("Only positive values supported for latestN")
        assert isinstance(enc, PrimitiveEncoding | StructEncoding)
        return ListEncoding(enc)
    assert isinstance(enc, PrimitiveEncoding)
    if name in ("sum", "min", "max", "mean", "gradient", "std_dev"):
        if not enc.is_numeric:
            _fail("Non-numeric encoding not supported")
        return enc if name in ("sum", "min", "max") else _P.DOUBLE
    if name == "days_since":
        if enc is not _P.DATE:
            _fail("Non-date encoding not supported")
        return _P.INT
    if name in ("count_unique", "days_since_latest_by", "days_since_earliest_by"):
        if enc is not _P.STRING:
            _fail("Non-string encoding not supported")
        return _P.LONG if name == "count_unique" else _MAP
    if name == "count_by":
        if enc not in (_P.STRING, _P.INT):
            _fail("Encoding not supported, only string or int")
        return _MAP
    if name == "num_flips":
        return _P.LONG
    assert name == "proportion"
    parse_primitive(enc, expr.args[0])
    return _P.DOUBLE


def _keyed_encoding(expr: Expression, source: Encoding) -> Encoding:
    name = expr.name
    if not isinstance(source, StructEncoding):
        _fail(f"{name} requires struct encoding")
    key = source.field(expr.args[0])
    if key is None:
        _fail(f"Struct field not found '{expr.args[0]}'")
    if name == "latest_by":
        if key.encoding is not _P.STRING or key.optional:
            _fail("latest_by key is required to be a non-optional string")
        return _MAP
    assert expr.field is not None
    value = source.field(expr.field)
    if value is None:
        _fail(f"Struct field not found '{expr.field}'")
    if name == "count_by" and (key.encoding, value.encoding) != (_P.STRING, _P.STRING):
        _fail("count_by fields are required to be strings")
    if name == "sum_by" and key.encoding is not _P.STRING:
        _fail("sum_by key is required to be a string")
    if name == "sum_by" and not value.encoding.is_numeric:
        _fail("sum_by field is required to be numerical")
    return _MAP


def _fail(message: str) -> NoReturn:
    raise DictionaryError(message)


# ---------------------------------------------------------------------------------------------
# Filters (§3.7)

_COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
_BOOL_OPS = ("and", "or")


@dataclass(frozen=True)
class FilterCompare:
    """``value <op> constant`` (a bare value is ``=``); ``field`` set for struct sources."""

    op: str
    value: PrimitiveValue
    field: str | None = None


@dataclass(frozen=True)
class FilterGroup:
    """``and``/``or`` over items; the top of every filter is a group (§3.7)."""

    op: str
    items: tuple[FilterCompare | FilterGroup, ...]


FilterItem = FilterCompare | FilterGroup


def parse_filter(text: str, source: Encoding) -> FilterGroup:
    """Parse a filter against its source encoding (§3.7).

    ``<op>,<item>,…`` with op ``and``/``or``; an item is a bare value (equality),
    ``(<cmp>,v)`` or a nested ``(<op>,<item>,…)``. For struct sources each item is
    ``<field>,<item>`` or a nested group of such pairs; a group after a field
    (``age,(or,1,2)``) applies to that field. Values parse with the source (field) encoding.
    Values cannot contain ``,``, ``(`` or ``)``.

    Raises:
        DictionaryError: the reason, e.g. ``Invalid filter operation 'xor'``.
    """
    if isinstance(source, ListEncoding):
        raise DictionaryError("Filtering lists is not supported")
    parser = _FilterParser(text)
    op = parser.atom()
    if op not in _BOOL_OPS:
        raise DictionaryError(f"Invalid filter operation '{op}'")
    return parser.group(op, source, None, end="")


class _FilterParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, ch: str) -> None:
        got = self.peek()
        if got != ch:
            want = f"'{ch}'" if ch else "end of filter"
            found = f"'{got}'" if got else "end of filter"
            raise DictionaryError(f"Invalid filter: expected {want} at {self.pos}, found {found}")
        self.pos += 1

    def atom(self) -> str:
        start = self.pos
        while self.peek() not in ("", ",", "(", ")"):
            self.pos += 1
        return self.text[start : self.pos]

    def group(self, op: str, enc: Encoding, field: str | None, end: str) -> FilterGroup:
        items: list[FilterItem] = []
        while self.peek() == ",":
            self.pos += 1
            items.append(self.item(enc, field))
        if not items:
            raise DictionaryError(f"Invalid filter: '{op}' needs at least one item")
        self.expect(end)
        return FilterGroup(op, tuple(items))

    def item(self, enc: Encoding, field: str | None) -> FilterItem:
        if isinstance(enc, StructEncoding):
            if self.peek() == "(":
                self.pos += 1
                op = self.atom()
                if op not in _BOOL_OPS:
                    raise DictionaryError("Invalid filter: struct filters need field/value pairs")
                return self.group(op, enc, None, end=")")
            name = self.atom()
            sf = enc.field(name)
            if sf is None:
                raise DictionaryError(f"Invalid filter: struct field '{name}' not found")
            self.expect(",")
            return self.item(sf.encoding, name)
        assert isinstance(enc, PrimitiveEncoding)
        if self.peek() != "(":
            return FilterCompare("=", parse_primitive(enc, self.atom()), field)
        self.pos += 1
        op = self.atom()
        if op in _BOOL_OPS:
            return self.group(op, enc, field, end=")")
        if op not in _COMPARISONS:
            raise DictionaryError(f"Invalid filter operation '{op}'")
        self.expect(",")
        value = parse_primitive(enc, self.atom())
        self.expect(")")
        return FilterCompare(op, value, field)


def parse_primitive(encoding: PrimitiveEncoding, raw: str) -> PrimitiveValue:
    """Parse a constant of an expression or filter with the ingest rules of §4.2
    (:func:`ivory.values.parse_primitive`).

    Raises:
        DictionaryError: ``Value '<raw>' is not a boolean`` (``an integer``, ``a long``,
        ``a double``, ``a date``).
    """
    try:
        return values.parse_primitive(encoding, raw)
    except ValueParseError as e:
        raise DictionaryError(str(e)) from e
