"""The squash reference (§8): the facts a reduction sees, filters, and every reduction.

Pure Python, no Spark and no I/O. The Spark jobs evaluate virtual features by calling
:func:`squash_group` on each (entity, concrete feature) group (see :mod:`ivory.jobs.squash`);
``debug-dump-reduction`` replays it step by step with :func:`dump_steps` (§11.2).

Facts are :class:`Fact` values (date, seconds of day, value) in §7.2 order, after the mode's
de-duplication (§6). Values are those of :mod:`ivory.values` (``TOMBSTONE``, primitives,
struct dicts, lists). A reduction result is a value of the same kinds, ``None`` for "null"
(nothing is emitted, §8.2) or ``TOMBSTONE`` (emitted as the output's missing value).

Arithmetic follows §8.4 literally: sums accumulate in fact order in IEEE doubles (``float``),
integer sums in 64-bit two's complement, ``gradient`` with exact integer ``Sx``/``Sxx``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ivory.dictionary import (
    ConcreteDefinition,
    Dictionary,
    FeatureId,
    Mode,
    VirtualDefinition,
    Window,
    parse_encoding,
    render_encoding,
)
from ivory.encoding import Encoding, ListEncoding, PrimitiveEncoding, StructEncoding
from ivory.expressions import (
    Expression,
    FilterCompare,
    FilterGroup,
    expression_encoding,
    parse_expression,
    parse_filter,
    parse_primitive,
)
from ivory.keyorder import java_string_hash, json_key_order
from ivory.values import TOMBSTONE, render_primitive, render_value
from ivory.windows import days, window_start

_MISSING = object()  # a struct fact without the field an expression reads


@dataclass(frozen=True)
class Fact:
    """One fact of a group: ``date`` (repository zone), ``seconds`` of the day (0..86399),
    ``value`` (``TOMBSTONE`` or a value of :mod:`ivory.values`)."""

    date: dt.date
    seconds: int
    value: object


@dataclass(frozen=True)
class Step:
    """A fact as a reduction meets it (§8.3, §11.2).

    ``skip`` is None when the reduction sees the fact, else ``"set-window"``,
    ``"state-window"`` or ``"filter"``; ``carried`` marks the state "previous" fact (or the
    synthetic tombstone, ``synthetic``) whose time prints as 00:00:00 in the dump.
    """

    fact: Fact
    skip: str | None = None
    carried: bool = False
    synthetic: bool = False


@dataclass(frozen=True)
class Virtual:
    """A virtual feature ready to evaluate: parsed expression and filter, window, the source
    encoding, the result encoding (§3.6) and the encoding its values render with."""

    feature: FeatureId
    expression: Expression
    filter: FilterGroup | None
    window: Window | None
    source: Encoding
    result: Encoding
    render: Encoding = field(default=PrimitiveEncoding.STRING)
    text: tuple[str, str | None] = ("", None)


def compile_virtual(definition: VirtualDefinition, source: ConcreteDefinition) -> Virtual:
    """Parse a virtual feature against its source (§3.6, §3.7).

    Raises:
        DictionaryError: the expression or filter does not fit the source encoding.
    """
    expr = parse_expression(definition.expression)
    result = expression_encoding(expr, source.encoding)
    flt = parse_filter(definition.filter, source.encoding) if definition.filter else None
    render = result
    if expr.name == "latest_by":  # a list of the source structs (§8.4)
        render = ListEncoding(source.encoding)  # type: ignore[arg-type]
    return Virtual(definition.feature, expr, flt, definition.window, source.encoding, result,
                   render, (definition.expression, definition.filter))


def order_facts(facts: Sequence[tuple[Fact, int]], mode: Mode) -> list[Fact]:
    """§7.2 order and §6 de-duplication of one group's facts with their priorities
    (1 = highest; 32767 for an earlier snapshot's facts).

    Order: datetime, then (keyed sets) the key values, then priority. ``state`` keeps the
    first fact per datetime, ``keyed_set`` the first per (datetime, key values) — a
    tombstone has no key values and de-duplicates with other tombstones —, ``set`` all.
    """
    def keys(fact: Fact) -> tuple[str, ...]:
        v = fact.value
        if mode.kind != "keyed_set" or not isinstance(v, dict):
            return ()
        return tuple(render_primitive(v[k]) if k in v else "" for k in mode.keys)

    ordered = sorted(facts, key=lambda fp: (fp[0].date, fp[0].seconds, keys(fp[0]), fp[1]))
    if mode.kind == "set":
        return [fact for fact, _ in ordered]
    out: list[Fact] = []
    last: tuple[object, ...] | None = None
    for fact, _ in ordered:
        marker = (fact.date, fact.seconds, keys(fact), fact.value is TOMBSTONE
                  if mode.kind == "keyed_set" else None)
        if marker != last:
            out.append(fact)
            last = marker
    return out


# ---------------------------------------------------------------------------------------------
# Facts seen (§8.3) and filters (§3.7)


def window_steps(facts: Sequence[Fact], state: bool, start: dt.date, end: dt.date
                 ) -> list[Step]:
    """Every fact dated on or before ``end`` with what the window does to it (§8.3).

    Sets: facts with ``start < date <= end`` are seen, earlier ones skipped
    (``set-window``). States: the last fact dated ``<= start`` is carried in (or, without
    one, a synthetic tombstone dated ``start`` comes first), earlier ones are skipped
    (``state-window``), later ones seen.
    """
    facts = [f for f in facts if f.date <= end]
    if not state:
        return [Step(f, None if f.date > start else "set-window") for f in facts]
    before = [i for i, f in enumerate(facts) if f.date <= start]
    steps = []
    if not before:
        steps.append(Step(Fact(start, 0, TOMBSTONE), carried=True, synthetic=True))
    last = before[-1] if before else -1
    for i, f in enumerate(facts):
        if f.date > start or i == last:
            steps.append(Step(f, carried=i == last))
        else:
            steps.append(Step(f, "state-window"))
    return steps


def passes(flt: FilterGroup | FilterCompare, value: object) -> bool:
    """Whether a value passes a filter (§3.7); tombstones never pass."""
    if value is TOMBSTONE:
        return False
    if isinstance(flt, FilterGroup):
        results = (passes(item, value) for item in flt.items)
        return all(results) if flt.op == "and" else any(results)
    if flt.field is not None:
        if not isinstance(value, dict) or flt.field not in value:
            return False
        value = value[flt.field]
    try:
        return _COMPARE[flt.op](value, flt.value)
    except TypeError:
        return False


_COMPARE: dict[str, Callable[[object, object], bool]] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,  # type: ignore[operator]
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,  # type: ignore[operator]
}  # fmt: skip


def seen_steps(virtual: Virtual, facts: Sequence[Fact], state: bool, end: dt.date
               ) -> tuple[list[Step], dt.date]:
    """The window rule then the filter (§8.3, §8.4 "Filters"): every step and the start."""
    start = window_start(end, virtual.window)
    steps = window_steps(facts, state, start, end)
    if virtual.filter is not None:
        steps = [s if s.skip or passes(virtual.filter, s.fact.value)
                 else Step(s.fact, "filter", s.carried, s.synthetic) for s in steps]
    return steps, start


# ---------------------------------------------------------------------------------------------
# Reductions (§8.4)


@dataclass(frozen=True)
class Span:
    """The end date, the exclusive start and ``L`` = days in ``[start, end]``."""

    start: dt.date
    end: dt.date

    @property
    def length(self) -> int:
        return (self.end - self.start).days + 1

    def clamp(self, date: dt.date) -> dt.date:
        return max(date, self.start)


def _wrap64(n: int) -> int:
    return (n + 2**63) % 2**64 - 2**63


def _project(facts: Sequence[Fact], name: str | None) -> list[tuple[Fact, object]]:
    """(fact, value or field value); facts without the field are left out."""
    out = []
    for f in facts:
        v = f.value
        if name is not None and v is not TOMBSTONE:
            v = v.get(name, _MISSING) if isinstance(v, dict) else _MISSING
            if v is _MISSING:
                continue
        out.append((f, v))
    return out


def _values(pairs: Iterable[tuple[Fact, object]]) -> list[tuple[Fact, object]]:
    return [(f, v) for f, v in pairs if v is not TOMBSTONE]


def _numeric_zero(encoding: Encoding | None) -> object:
    return 0.0 if encoding is PrimitiveEncoding.DOUBLE else 0


def _field_encoding(source: Encoding, name: str | None) -> Encoding | None:
    if name is None:
        return source
    if isinstance(source, StructEncoding):
        f = source.field(name)
        return f.encoding if f else None
    return None


def _sum(values: Sequence[object], encoding: Encoding | None) -> object:
    if encoding is PrimitiveEncoding.DOUBLE:
        total = 0.0
        for v in values:
            total += v  # type: ignore[operator]
        return total
    acc = 0
    for v in values:
        acc = _wrap64(acc + v)  # type: ignore[operator]
    return acc


def _mean(xs: Sequence[float]) -> float:
    if not xs:
        return 0.0
    total = 0.0
    for x in xs:
        total += x
    return total / len(xs)


def _std_dev(xs: Sequence[float]) -> float:
    n = len(xs)
    if n < 2:
        return 0.0
    sx = sxx = 0.0
    for x in xs:
        sx += x
        sxx += x * x
    return math.sqrt(abs(sxx / n - (sx / n) * (sx / n)))


def _gradient(points: Sequence[tuple[int, float]]) -> float:
    n = sx = sxx = 0
    sy = sxy = 0.0
    for x, y in points:
        n += 1
        sx += x
        sxx += x * x
        sy += y
        sxy += float(x) * y
    z = n * sxx - sx * sx
    if z == 0:
        return 0.0
    return (sxy * n - float(sx) * sy) / z


def _map_key(value: object) -> str:
    return render_primitive(value)


def _day_buckets(facts: Sequence[Fact], w: Span) -> list[int]:
    buckets = [0] * w.length
    for f in facts:
        if f.value is not TOMBSTONE and w.start <= f.date <= w.end:
            buckets[(w.end - f.date).days] += 1
    return buckets


def _week_buckets(facts: Sequence[Fact], w: Span) -> list[int]:
    buckets = [0] * (w.length // 7)
    for f in facts:
        if f.value is not TOMBSTONE and w.start <= f.date <= w.end:
            i = (w.end - f.date).days // 7
            if i < len(buckets):
                buckets[i] += 1
    return buckets


def _quantile(buckets: Sequence[int], k: int, q: int) -> float:
    s = sorted(buckets)
    if not s or q == 0:
        return 0.0
    a = k / q * (len(s) - 1)
    lo, hi = math.floor(a), math.ceil(a)
    if lo < 0 or hi >= len(s):
        return 0.0
    frac = hi - a
    return s[lo] * frac + s[hi] * (1 - frac)


def _scala_hash_set_key(value: object) -> tuple[int, ...]:
    """Scala 2.11 immutable ``HashSet`` iteration key: improved ``##``, 5-bit groups from
    the least significant end (as rule 1 of §4.5). Ints hash to themselves; strings by
    ``String.hashCode``; dates (AMBIGUOUS, upstream's own Date class) by their text."""
    h = value & 0xFFFFFFFF if isinstance(value, int) else java_string_hash(render_primitive(value))
    h = (h + (~(h << 9) & 0xFFFFFFFF)) & 0xFFFFFFFF
    h ^= h >> 14
    h = (h + (h << 4)) & 0xFFFFFFFF
    h ^= h >> 10
    return tuple((h >> s) & 31 for s in range(0, 32, 5))


def reduce(virtual: Virtual, seen: Sequence[Fact], w: Span,
           expr: Expression | None = None) -> object:
    """Evaluate one expression over the facts it sees (§8.4), in order.

    Args:
        virtual: the feature (source encoding, filter already applied to ``seen``).
        seen: the facts of §8.3 after the filter, synthetic tombstone included.
        w: the window (start exclusive, end inclusive).
        expr: the expression to evaluate (``inverse`` recurses), default the feature's.

    Returns:
        The result value, ``None`` (null: not emitted, §8.2) or ``TOMBSTONE``.
    """
    e = expr or virtual.expression
    name = e.name
    if name == "inverse":
        assert e.inner is not None
        x = reduce(virtual, seen, w, e.inner)
        if x is None or x is TOMBSTONE:
            return x
        return math.nan if x == 0 else 1.0 / x  # type: ignore[operator]
    enc = _field_encoding(virtual.source, e.field)
    pairs = _project(seen, e.field)
    vals = _values(pairs)
    if name == "latest":
        if e.field is None:
            last = seen[-1].value if seen else None
            return None if last is TOMBSTONE else last
        if seen and seen[-1].value is TOMBSTONE:
            return TOMBSTONE
        return vals[-1][1] if vals else TOMBSTONE
    if name == "latestN":
        n = int(e.args[0])
        return [v for _, v in reversed(vals)][:n]
    if name == "count":
        return len(vals)
    if name == "sum":
        return _sum([v for _, v in vals], enc)
    if name in ("min", "max"):
        xs = [v for _, v in vals]
        return (min if name == "min" else max)(xs) if xs else _numeric_zero(enc)
    if name == "mean":
        return _mean([float(v) for _, v in vals])  # type: ignore[arg-type]
    if name == "std_dev":
        return _std_dev([float(v) for _, v in vals])  # type: ignore[arg-type]
    if name == "gradient":
        return _gradient([(days(w.clamp(f.date)), float(v)) for f, v in vals])  # type: ignore
    if name == "count_unique":
        return len({v for _, v in vals})
    if name == "num_flips":
        flips = 0
        for (_, a), (_, b) in itertools.pairwise(pairs):
            if a is TOMBSTONE and b is TOMBSTONE:
                continue
            if a is TOMBSTONE or b is TOMBSTONE or a != b:
                flips += 1
        return flips
    if name == "proportion":
        target = parse_primitive(enc, e.args[0])  # type: ignore[arg-type]
        hits = sum(1 for _, v in pairs if v is not TOMBSTONE and v == target)
        return hits / len(pairs) if pairs else 0.0
    if name == "count_by" and e.args:
        groups: dict[str, set[object]] = {}
        for _, v in _values(_project(seen, None)):
            if isinstance(v, dict) and e.args[0] in v and e.field in v:
                groups.setdefault(_map_key(v[e.args[0]]), set()).add(v[e.field])
        return {k: len(s) for k, s in groups.items()}
    if name == "count_by":
        counts: dict[str, int] = {}
        for _, v in vals:
            counts[_map_key(v)] = counts.get(_map_key(v), 0) + 1
        return counts
    if name == "sum_by":
        sums: dict[str, list[object]] = {}
        for _, v in _values(_project(seen, None)):
            if isinstance(v, dict) and e.args[0] in v and e.field in v:
                sums.setdefault(_map_key(v[e.args[0]]), []).append(v[e.field])
        fenc = _field_encoding(virtual.source, e.field)
        return {k: _sum(xs, fenc) for k, xs in sums.items()}
    if name in ("days_since_latest_by", "days_since_earliest_by"):
        out: dict[str, int] = {}
        for f, v in vals:
            key = _map_key(v)
            if name == "days_since_latest_by" or key not in out:
                out[key] = (w.end - w.clamp(f.date)).days
        return out
    if name in ("days_since_latest", "days_since_earliest"):
        if not vals:
            return None
        f = vals[-1][0] if name == "days_since_latest" else vals[0][0]
        return (w.end - w.clamp(f.date)).days
    if name == "days_since":
        if not pairs or pairs[-1][1] is TOMBSTONE:
            return TOMBSTONE
        return (w.end - pairs[-1][1]).days  # type: ignore[operator]
    if name.endswith("_in_days") or name == "count_days":
        buckets = _day_buckets(seen, w)
        return _bucket_result(name, buckets, w.length, e)
    if name.endswith("_in_weeks"):
        buckets = _week_buckets(seen, w)
        return _bucket_result(name, buckets, len(buckets), e)
    if name == "interval":
        xs = [days(w.clamp(f.date)) for f, _ in vals]
        gaps = [b - a for a, b in itertools.pairwise(xs)]
        op = e.args[0]
        if op in ("min", "max"):
            return (min if op == "min" else max)(gaps) if gaps else 0
        if op == "mean":
            return _mean([float(g) for g in gaps])
        if op == "std_dev":
            return _std_dev([float(g) for g in gaps])
        return _gradient([(x, float(g)) for x, g in zip(xs[1:], gaps, strict=False)])
    if name == "latest_by":
        last: dict[str, object] = {}
        for _, v in vals:
            if isinstance(v, dict) and e.args[0] in v:
                key = str(v[e.args[0]])
                last[key] = v
        return [last[k] for k in json_key_order(list(last), "reduction")]
    if name == "union":
        seen_items: list[object] = []
        for _, v in vals:
            for item in v:  # type: ignore[attr-defined]
                if item not in seen_items:
                    seen_items.append(item)
        if len(seen_items) > 4:
            seen_items.sort(key=_scala_hash_set_key)
        return seen_items
    if name == "proportion_by_time":
        lo, hi = int(e.args[0]), int(e.args[1])
        hits = sum(1 for f in seen if lo <= f.seconds // 3600 <= hi)
        return hits / len(seen) if seen else 0.0
    raise ValueError(f"no reduction for expression '{name}'")  # pragma: no cover


def _bucket_result(name: str, buckets: list[int], length: int, e: Expression) -> object:
    nonzero = [b for b in buckets if b]
    if name.startswith("mean_"):
        return sum(buckets) / length if length else 0.0
    if name.startswith("maximum_"):
        return max(buckets) if buckets else 0
    if name.startswith("minimum_"):
        return min(nonzero) if nonzero else 0
    if name == "count_days":
        return len(nonzero)
    return _quantile(buckets, int(e.args[0]), int(e.args[1]))


def evaluate(virtual: Virtual, facts: Sequence[Fact], state: bool, end: dt.date) -> object:
    """The value of a virtual feature at ``end`` over a group's facts (§8.3, §8.4)."""
    steps, start = seen_steps(virtual, facts, state, end)
    return reduce(virtual, [s.fact for s in steps if s.skip is None], Span(start, end))


# ---------------------------------------------------------------------------------------------
# One group (§8.2), the dump (§11.2), a whole snapshot (§8.5)


@dataclass(frozen=True)
class Group:
    """A concrete feature with its virtual features in §8.5 emission order."""

    concrete: ConcreteDefinition
    virtuals: tuple[Virtual, ...]

    @property
    def is_state(self) -> bool:
        return self.concrete.mode.kind == "state"


def build_groups(dictionary: Dictionary) -> dict[FeatureId, Group]:
    """Every concrete feature of a dictionary with its compiled virtual features, in the
    emission order of §8.5 (:meth:`ivory.dictionary.Dictionary.virtuals_of`)."""
    out = {}
    for fid, d in dictionary.by_feature.items():
        if isinstance(d, ConcreteDefinition):
            out[fid] = Group(d, tuple(compile_virtual(v, d) for v in dictionary.virtuals_of(fid)))
    return out


def group_to_json(group: Group) -> dict[str, object]:
    """A group as JSON for job plans (``build_squash_table``), read back by
    :func:`group_from_json`; virtual features keep their §8.5 order and carry their index."""
    c = group.concrete
    return {
        "namespace": c.feature.namespace, "name": c.feature.name,
        "encoding": render_encoding(c.encoding, declared=True), "mode": c.mode.render(),
        "virtuals": [{"namespace": v.feature.namespace, "name": v.feature.name,
                      "expression": v.text[0], "filter": v.text[1],
                      "window": v.window.render() if v.window else None}
                     for v in group.virtuals],
    }


def group_from_json(row: dict[str, object]) -> Group:
    """The :class:`Group` of a :func:`group_to_json` row.

    Raises:
        DictionaryError: an expression, filter, window or encoding does not parse.
    """
    fid = FeatureId(str(row["namespace"]), str(row["name"]))
    concrete = ConcreteDefinition(fid, parse_encoding(str(row["encoding"])),
                                  Mode.parse(str(row["mode"])))
    virtuals = []
    for v in row["virtuals"]:  # type: ignore[attr-defined]
        window = Window.parse(v["window"]) if v["window"] else None
        definition = VirtualDefinition(FeatureId(v["namespace"], v["name"]), fid,
                                       v["expression"], v["filter"], window)
        virtuals.append(compile_virtual(definition, concrete))
    return Group(concrete, tuple(virtuals))


def virtual_results(group: Group, facts: Sequence[Fact], end: dt.date
                    ) -> list[tuple[int, Virtual, object]]:
    """The non-null results of the group's virtual features at ``end`` (§8.2) with each
    feature's position in the §8.5 order (1-based; 0 is the concrete ``latest``)."""
    out = []
    for position, v in enumerate(group.virtuals, 1):
        result = evaluate(v, facts, group.is_state, end)
        if result is not None:
            out.append((position, v, result))
    return out


def squash_group(group: Group, facts: Sequence[Fact], end: dt.date
                 ) -> list[tuple[FeatureId, Encoding, object]]:
    """The values one (entity, concrete feature) group emits at ``end`` (§8.2), in order:
    the concrete ``latest`` for a state feature, then each virtual feature. Null results are
    left out; a ``TOMBSTONE`` result is kept (rendered as the missing value).

    Args:
        facts: the group's facts in §7.2 order after de-duplication; facts dated after
            ``end`` are ignored.
    """
    out: list[tuple[FeatureId, Encoding, object]] = []
    if group.is_state:
        known = [f for f in facts if f.date <= end]
        if known and known[-1].value is not TOMBSTONE:
            out.append((group.concrete.feature, group.concrete.encoding, known[-1].value))
    out.extend((v.feature, v.render, result) for _, v, result in virtual_results(group, facts, end))
    return out


def render_result(encoding: Encoding, value: object, missing: str = "NA",
                  context: str = "stored", text_format: str = "json") -> str:
    """A result as extract text (§4.3, §4.4): maps and structs in the key order of
    ``context`` (§4.5: ``stored`` for extracts, ``reduction`` for the dump);
    ``text_format`` ``json`` or ``deprecated`` (§9.1: ``(k:v)`` structs and maps, plain
    list elements)."""
    if isinstance(value, float) and encoding is not PrimitiveEncoding.DOUBLE:
        encoding = PrimitiveEncoding.DOUBLE
    return render_value(encoding, value, missing, text_format, context=context)


#: Map-valued reductions whose values upstream saves as ``i32`` (§8.4, §9.4).
_INT_MAPS = ("days_since_latest_by", "days_since_earliest_by")


def thrift_result(virtual: Virtual, value: object) -> object:
    """A virtual feature's result as the ``ThriftFactValue`` of a thrift extract (§9.4).

    Value types follow the result encoding (§3.6) with upstream's exceptions: an ``int``
    ``sum`` is saved as ``i64`` (§8.4); map values (``count_by``, ``*_by``, ``sum_by``)
    are ``i64`` counts, ``i32`` days for ``days_since_*_by`` and the summed field's type
    for ``sum_by``. A tombstone result stays a tombstone.

    Returns:
        An :class:`ivory.thrift.facts.ThriftFactValue`.
    """
    from ivory.thrift.facts import to_thrift

    expr = virtual.expression
    encoding: Encoding = virtual.render
    if isinstance(value, float):
        encoding = PrimitiveEncoding.DOUBLE
    elif expr.name == "sum" and encoding is PrimitiveEncoding.INT:
        encoding = PrimitiveEncoding.LONG
    map_values: PrimitiveEncoding | None = None
    if isinstance(value, dict) and isinstance(encoding, StructEncoding) and not encoding.fields:
        if expr.name in _INT_MAPS:
            map_values = PrimitiveEncoding.INT
        elif expr.name == "sum_by" and isinstance(virtual.source, StructEncoding):
            summed = virtual.source.field(expr.field or "")
            map_values = summed.encoding if summed is not None else None
        else:
            map_values = PrimitiveEncoding.LONG
    return to_thrift(encoding, value, map_values)


def _when(step: Step) -> str:
    d = step.fact.date
    s = 0 if step.carried else step.fact.seconds
    return f"{d.isoformat()}T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def dump_steps(virtual: Virtual, facts: Sequence[Fact], state: bool, end: dt.date
               ) -> list[tuple[str, str, str]]:
    """``debug-dump-reduction`` steps of one feature (§11.2): per fact dated on or before
    ``end`` (and the synthetic tombstone), ``(yyyy-MM-ddTHH:mm:ss, fact value, result after
    this fact)``; the result is ``SKIP: set-window`` / ``SKIP: state-window`` /
    ``SKIP: filter`` for facts the reduction does not see, ``NA`` when null."""
    steps, start = seen_steps(virtual, facts, state, end)
    w = Span(start, end)
    out = []
    seen: list[Fact] = []
    for step in steps:
        value = render_value(virtual.source, step.fact.value, "NA")
        if step.skip is not None:
            out.append((_when(step), value, f"SKIP: {step.skip}"))
            continue
        seen.append(step.fact)
        result = reduce(virtual, seen, w)
        text = "NA" if result is None else render_result(virtual.render, result, "NA",
                                                         "reduction")
        out.append((_when(step), value, text))
    return out


def squash_snapshot(dictionary: Dictionary, facts: dict[tuple[str, FeatureId], list[Fact]],
                    end: dt.date) -> list[tuple[str, FeatureId, str]]:
    """A whole snapshot's sparse values in the order of §8.5: concrete features by id, then
    entities in UTF-8 byte order, then :func:`squash_group`'s order.

    Args:
        facts: (entity, concrete feature) -> facts in §7.2 order.

    Returns:
        ``(entity, feature, rendered value)`` with ``NA`` for tombstone results.
    """
    groups = build_groups(dictionary)
    out = []
    keys = sorted(facts, key=lambda k: (k[1].sort_key, k[0].encode("utf-8")))
    for entity, fid in keys:
        group = groups.get(fid)
        if group is None:
            continue
        for feature, encoding, value in squash_group(group, facts[(entity, fid)], end):
            out.append((entity, feature, render_result(encoding, value)))
    return out
