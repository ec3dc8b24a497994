"""The dictionary: feature definitions, their text formats, validation and storage (§3).

Pure code, no Spark and no I/O. A :class:`Dictionary` is an ordered tuple of concrete and
virtual definitions (§3.1); the stored order is kept because it decides the order of the
squash output (§8.5). Text: :func:`parse_dictionary` reads the v2 format of §3.2 and the
legacy v1 pipe format of §3.3 (auto-detected per file); :func:`render_dictionary` prints the
``cat-dictionary`` text of §3.5. Storage: :func:`dictionary_to_bytes` and
:func:`dictionary_from_bytes` use the compact-protocol ``ThriftDictionary`` of
``ivory/thrift/dictionary.thrift`` (§2.4). Expressions and filters are in
:mod:`ivory.expressions`.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from ivory.encoding import (
    Encoding,
    ListEncoding,
    PrimitiveEncoding,
    StructEncoding,
    StructField,
)
from ivory.errors import DictionaryError
from ivory.expressions import expression_encoding, parse_expression, parse_filter
from ivory.javanum import java_trim
from ivory.keyorder import json_key_order

_NAMESPACE_RE = re.compile(r"[A-Za-z0-9-][A-Za-z0-9_-]*")


def is_valid_namespace(namespace: str) -> bool:
    """True if ``namespace`` matches ``[A-Za-z0-9_-]+``, does not start with ``_`` and has
    fewer than 256 characters (§1.2)."""
    return len(namespace) < 256 and _NAMESPACE_RE.fullmatch(namespace) is not None


@functools.total_ordering
@dataclass(frozen=True)
class FeatureId:
    """A feature id ``namespace:name`` (§1.2).

    Ordered by (namespace, name) with Java string comparison (UTF-16 code units, the same as
    plain ``str`` order for characters of the BMP); this order defines the feature index.
    The constructor does not validate; :meth:`parse` does.
    """

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}:{self.name}"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, FeatureId):
            return NotImplemented
        return self.sort_key < other.sort_key

    @property
    def sort_key(self) -> tuple[bytes, bytes]:
        """The key of the §1.2 order: namespace and name as UTF-16 code units."""
        return (_utf16(self.namespace), _utf16(self.name))

    @classmethod
    def parse(cls, text: str) -> FeatureId:
        """Parse ``ns:name``: split at the first ``:``; the name is not validated (§1.2).

        Raises:
            DictionaryError: no ``:``, or an invalid namespace.
        """
        namespace, sep, name = text.partition(":")
        if not sep:
            raise DictionaryError(f"Invalid feature id '{text}': expected <namespace>:<name>")
        if not is_valid_namespace(namespace):
            raise DictionaryError(f"Invalid namespace '{namespace}' in feature id '{text}'")
        return cls(namespace, name)


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-be", "surrogatepass")


@dataclass(frozen=True)
class Mode:
    """A feature mode (§4.1): ``state``, ``set``, or ``keyed_set`` with its key fields."""

    kind: str = "state"
    keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("state", "set", "keyed_set"):
            raise DictionaryError(f"Invalid mode '{self.kind}'")
        if (self.kind == "keyed_set") != bool(self.keys):
            raise DictionaryError(f"Invalid mode '{self.render()}': keys go with keyed_set only")

    def render(self) -> str:
        """``state``, ``set`` or ``keyed_set,a,b`` (§3.2, §3.5)."""
        return ",".join((self.kind, *self.keys))

    @property
    def is_state(self) -> bool:
        """True for ``state``; set and keyed_set concretes are never output themselves (§4.1)."""
        return self.kind == "state"

    @classmethod
    def parse(cls, text: str) -> Mode:
        """Parse ``state``, ``set`` or ``keyed_set,<field>[,<field>…]`` (§3.2).

        Raises:
            DictionaryError: ``Invalid mode '<text>'``.
        """
        kind, *keys = text.split(",")
        if kind == "keyed_set" and keys and all(keys):
            return cls(kind, tuple(keys))
        if kind in ("state", "set") and not keys:
            return cls(kind)
        raise DictionaryError(f"Invalid mode '{text}'")


class FeatureType(enum.Enum):
    """Descriptive feature type (§4.1); ``.value`` is its text."""

    NUMERICAL = "numerical"
    CONTINUOUS = "continuous"
    CATEGORICAL = "categorical"
    BINARY = "binary"

    @classmethod
    def parse(cls, text: str) -> FeatureType:
        """Raises: DictionaryError: ``Invalid type '<text>'``."""
        for t in cls:
            if t.value == text:
                return t
        raise DictionaryError(f"Invalid type '{text}'")


_WINDOW_UNITS = {"day": "day", "days": "day", "week": "week", "weeks": "week",
                 "month": "month", "months": "month", "year": "year", "years": "year"}  # fmt: skip


@dataclass(frozen=True)
class Window:
    """A window ``<length> <unit>`` of a virtual feature (§3.2, §8.1); unit is singular."""

    length: int
    unit: str

    def __post_init__(self) -> None:
        if self.unit not in ("day", "week", "month", "year") or not 0 <= self.length < 2**31:
            raise DictionaryError(f"Invalid window '{self.length} {self.unit}'")

    def render(self) -> str:
        """``1 month``, ``2 months`` (§3.5: singular for 1, plural otherwise)."""
        return f"{self.length} {self.unit}{'' if self.length == 1 else 's'}"

    @classmethod
    def parse(cls, text: str) -> Window:
        """Parse ``<int> <unit>``, exactly one space; unit in day(s) week(s) month(s) year(s).

        Raises:
            DictionaryError: ``Invalid window '<text>'``.
        """
        parts = text.split(" ")
        ok = len(parts) == 2 and parts[1] in _WINDOW_UNITS and re.fullmatch("[0-9]{1,10}", parts[0])
        if ok and int(parts[0]) < 2**31:
            return cls(int(parts[0]), _WINDOW_UNITS[parts[1]])
        raise DictionaryError(f"Invalid window '{text}'")


@dataclass(frozen=True)
class ConcreteDefinition:
    """A concrete feature (§3.1): facts of it are ingested.

    ``tombstones`` are raw values that ingest turns into tombstones (§4.1).
    """

    feature: FeatureId
    encoding: Encoding
    mode: Mode = field(default_factory=Mode)
    type: FeatureType | None = None
    description: str = ""
    tombstones: tuple[str, ...] = ()


@dataclass(frozen=True)
class VirtualDefinition:
    """A virtual feature (§3.1): ``expression`` over the facts of the concrete ``source``.

    ``expression`` and ``filter`` keep the imported text verbatim (§3.7); parse them with
    :func:`ivory.expressions.parse_expression` / :func:`ivory.expressions.parse_filter`.
    """

    feature: FeatureId
    source: FeatureId
    expression: str
    filter: str | None = None
    window: Window | None = None


Definition = ConcreteDefinition | VirtualDefinition


@dataclass(frozen=True)
class Dictionary:
    """An ordered list of definitions (§3.1). A repeated feature id is allowed in the list;
    the later definition wins everywhere (:attr:`by_feature`)."""

    definitions: tuple[Definition, ...] = ()

    @cached_property
    def by_feature(self) -> dict[FeatureId, Definition]:
        """Feature id -> definition; the later definition wins."""
        return {d.feature: d for d in self.definitions}

    def get(self, fid: FeatureId) -> Definition | None:
        """The definition of ``fid``, or None."""
        return self.by_feature.get(fid)

    def concrete(self, fid: FeatureId) -> ConcreteDefinition | None:
        """The concrete definition of ``fid``; None if absent or virtual."""
        d = self.by_feature.get(fid)
        return d if isinstance(d, ConcreteDefinition) else None

    @cached_property
    def namespaces(self) -> frozenset[str]:
        """The namespaces of every feature."""
        return frozenset(fid.namespace for fid in self.by_feature)

    def sorted_features(self) -> list[FeatureId]:
        """Every feature, concrete and virtual, in feature-index order (§1.2)."""
        return list(self._sorted)

    @cached_property
    def _sorted(self) -> tuple[FeatureId, ...]:
        return tuple(sorted(self.by_feature, key=lambda f: f.sort_key))

    @cached_property
    def feature_index(self) -> dict[FeatureId, int]:
        """Feature id -> 0-based feature index (dense columns, ``.dictionary``; §1.2, §9.5)."""
        return {fid: i for i, fid in enumerate(self._sorted)}

    def virtuals_of(self, source: FeatureId) -> list[VirtualDefinition]:
        """The virtual features whose source is ``source``, in squash output order (§8.5).

        QUIRK (§8.5): upstream emits them in the *reverse* of the stored definition order
        (its storage reverses the list on every load), so a file declaring ``cooldown``
        first emits it last. This gives the reverse of our stored order, which equals
        upstream for a single import without ``-u``. Only the winning definition of each
        feature counts.
        """
        return list(self._virtuals_by_source.get(source, ()))

    @cached_property
    def _virtuals_by_source(self) -> dict[FeatureId, list[VirtualDefinition]]:
        out: dict[FeatureId, list[VirtualDefinition]] = {}
        winners = self.by_feature
        for d in reversed(self.definitions):
            if isinstance(d, VirtualDefinition) and winners[d.feature] is d:
                out.setdefault(d.source, []).append(d)
        return out

    @property
    def is_empty(self) -> bool:
        """True when there is no definition."""
        return not self.definitions


# ---------------------------------------------------------------------------------------------
# Text formats (§3.2, §3.3, §3.5)


def parse_dictionary(text: str, path: str = "<dictionary>") -> Dictionary:
    """Parse one dictionary file: the v2 format of §3.2, or the v1 format of §3.3.

    The format is detected once per file from its first line (v1: exactly six ``|``-fields
    and no ``:`` in the first). Every line is parsed (no comment or blank-line skipping), but
    a final ``\\n`` does not make an extra empty line, and an empty text is an empty
    dictionary. Expression syntax is checked here (§3.6); everything that needs the other
    definitions is left to :func:`validate_dictionary`.

    Args:
        text: The file content.
        path: The file's name. A single file's messages are not prefixed with it (they read
            ``Line <n>: <message>``, as upstream prints them); see
            :func:`parse_dictionary_files`.

    Raises:
        DictionaryError: one ``Line <n>: <message>`` per bad line, all lines checked.
    """
    return parse_dictionary_files([(path, text)])


def parse_dictionary_files(files: list[tuple[str, str]]) -> Dictionary:
    """Parse several ``(path, text)`` files and concatenate them in the given order (§3.2 ``-p
    DIR``). Each file detects its own format.

    Raises:
        DictionaryError: every bad line of every file; with several files each message is
        prefixed ``<path>: ``.
    """
    definitions: list[Definition] = []
    errors: list[str] = []
    for path, text in files:
        defs, errs = _parse_lines(text)
        definitions.extend(defs)
        errors.extend(f"{path}: {e}" if len(files) > 1 else e for e in errs)
    if errors:
        raise DictionaryError(errors)
    return Dictionary(tuple(definitions))


def _parse_lines(text: str) -> tuple[list[Definition], list[str]]:
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    v1 = bool(lines) and _is_v1(lines[0])
    definitions: list[Definition] = []
    errors: list[str] = []
    for n, line in enumerate(lines, 1):
        try:
            definitions.append(_parse_v1_line(line) if v1 else _parse_v2_line(line))
        except DictionaryError as e:
            errors.extend(f"Line {n}: {m}" for m in e.messages)
    return definitions, errors


def _is_v1(line: str) -> bool:
    fields = line.split("|")
    return len(fields) == 6 and ":" not in fields[0]


def _parse_v2_line(line: str) -> Definition:
    first, *parts = line.split("|")
    fid = FeatureId.parse(first)
    attrs: dict[str, str] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep:
            raise DictionaryError(f"Invalid attribute '{part}': expected <key>=<value>")
        key, value = java_trim(key), java_trim(value)
        if key in attrs:
            raise DictionaryError(f"Field '{key}' incorrectly defined multiple times")
        attrs[key] = value
    if "encoding" in attrs and "source" in attrs:
        raise DictionaryError("Must specify either 'encoding' or 'source' but not both")
    if "encoding" in attrs:
        return ConcreteDefinition(
            fid,
            parse_encoding(attrs["encoding"]),
            Mode.parse(attrs["mode"]) if "mode" in attrs else Mode(),
            FeatureType.parse(attrs["type"]) if "type" in attrs else None,
            attrs.get("description", ""),
            parse_tombstones(attrs["tombstone"]) if "tombstone" in attrs else (),
        )
    if "source" not in attrs:
        raise DictionaryError("Must either specify at least 'encoding' or 'source'")
    if "expression" not in attrs:
        raise DictionaryError("Missing 'expression' for the virtual feature with 'source'")
    parse_expression(attrs["expression"])
    return VirtualDefinition(
        fid,
        FeatureId.parse(attrs["source"]),
        attrs["expression"],
        attrs.get("filter"),
        Window.parse(attrs["window"]) if "window" in attrs else None,
    )


def _parse_v1_line(line: str) -> ConcreteDefinition:
    fields = line.split("|")
    if len(fields) != 6:
        raise DictionaryError(f"Expected 6 '|'-separated fields (v1 format), found {len(fields)}")
    namespace, name, enc, ftype, description, tombstones = fields
    if not is_valid_namespace(namespace):
        raise DictionaryError(f"Invalid namespace '{namespace}'")
    encoding = parse_encoding(enc)
    if not isinstance(encoding, PrimitiveEncoding):
        raise DictionaryError(f"Invalid encoding '{enc}': the v1 format has primitives only")
    # QUIRK: Java String.split(","): trailing empty strings dropped, but "" gives [""].
    tombs = tombstones.split(",")
    if len(tombs) > 1:
        while tombs and not tombs[-1]:
            tombs.pop()
    return ConcreteDefinition(
        FeatureId(namespace, name), encoding, Mode(), FeatureType.parse(ftype), description,
        tuple(tombs),
    )  # fmt: skip


def parse_tombstones(text: str) -> tuple[str, ...]:
    """Parse a ``tombstone=`` value: comma separated with CSV quoting (§3.2): a field that
    starts with ``"`` runs to the closing ``"``, and ``""`` inside it is one ``"``.

    QUIRK: an empty value gives the single tombstone ``""``.

    Raises:
        DictionaryError: an unterminated quote.
    """
    fields: list[str] = []
    current: list[str] = []
    quoted, start, i = False, True, 0
    while i < len(text):
        c = text[i]
        if quoted and c == '"' and text[i + 1 : i + 2] == '"':
            current.append(c)
            i += 1
        elif quoted and c == '"':
            quoted = False
        elif c == "," and not quoted:
            fields.append("".join(current))
            current, start, i = [], True, i + 1
            continue
        elif c == '"' and start:
            quoted = True
        else:
            current.append(c)
        start, i = False, i + 1
    if quoted:
        raise DictionaryError(f"Invalid tombstone '{text}': unterminated quote")
    return (*fields, "".join(current))


def render_definition(d: Definition) -> str:
    """One ``cat-dictionary`` line (§3.5), without the ``\\n``."""
    if isinstance(d, ConcreteDefinition):
        parts = [
            str(d.feature),
            f"encoding={render_encoding(d.encoding)}",
            f"mode={d.mode.render()}",
        ]
        if d.type is not None:
            parts.append(f"type={d.type.value}")
        if d.description:
            parts.append(f"description={d.description}")
        if d.tombstones:
            parts.append(f"tombstone={render_tombstones(d.tombstones)}")
    else:
        parts = [str(d.feature), f"source={d.source}", f"expression={d.expression}"]
        if d.filter is not None:
            parts.append(f"filter={d.filter}")
        if d.window is not None:
            parts.append(f"window={d.window.render()}")
    return "|".join(parts)


def render_dictionary(d: Dictionary) -> str:
    """The ``cat-dictionary`` text (§3.5): one line per definition in stored order, each
    ending in ``\\n``. (The CLI prints the extra blank line.)"""
    return "".join(render_definition(x) + "\n" for x in d.definitions)


# ---------------------------------------------------------------------------------------------
# Import (§3.4)


def merge_dictionaries(old: Dictionary, new: Dictionary, update: bool) -> Dictionary:
    """The dictionary an import stores (§3.4).

    Without ``update`` (override) it is ``new`` unchanged. With ``update`` it is the old
    definitions followed by the new ones, one definition per feature: a feature defined
    again keeps only its later definition, at the later position.
    """
    if not update:
        return new
    merged = old.definitions + new.definitions
    last = {d.feature: i for i, d in enumerate(merged)}
    return Dictionary(tuple(d for i, d in enumerate(merged) if last[d.feature] == i))


# ---------------------------------------------------------------------------------------------
# Encodings as text (§3.2, §3.5, §4.5)

_PRIMITIVES = {p.value: p for p in PrimitiveEncoding}
_FIELD_NAME_RE = re.compile(r"[^\s:,()\[\]*|]+")


def parse_encoding(text: str) -> Encoding:
    """Parse ``boolean|int|long|double|string|date``, a struct ``(name:prim[*],…)`` (spaces
    around names and types allowed) or a list ``[prim]`` / ``[(struct)]`` (§3.2).

    Struct fields keep their declaration order, whatever their number: values are stored
    and fed to the JSON key order of §4.5 rules 2-4 in that order. Only the dictionary text
    (:func:`render_encoding`) prints 5 or more fields in Scala ``HashMap`` order (§4.5
    rule 1).

    Raises:
        DictionaryError: ``Invalid encoding '<text>'``, with the reason.
    """
    s = java_trim(text)
    if s in _PRIMITIVES:
        return _PRIMITIVES[s]
    inner = java_trim(s[1:-1])
    if s[:1] == "[" and s[-1:] == "]":
        if inner in _PRIMITIVES:
            return ListEncoding(_PRIMITIVES[inner])
        if inner[:1] == "(" and inner[-1:] == ")":
            return ListEncoding(_parse_struct(inner[1:-1], text))
    elif s[:1] == "(" and s[-1:] == ")":
        return _parse_struct(inner, text)
    raise DictionaryError(f"Invalid encoding '{text}'")


def _parse_struct(body: str, text: str) -> StructEncoding:
    fields: list[StructField] = []
    for part in body.split(","):
        name, _, prim = (java_trim(x) for x in part.partition(":"))
        optional = prim.endswith("*")
        prim = java_trim(prim.removesuffix("*"))
        if not _FIELD_NAME_RE.fullmatch(name) or prim not in _PRIMITIVES:
            raise DictionaryError(f"Invalid encoding '{text}': bad struct field '{part}'")
        if any(f.name == name for f in fields):
            raise DictionaryError(f"Invalid encoding '{text}': struct field '{name}' repeated")
        fields.append(StructField(name, _PRIMITIVES[prim], optional))
    return StructEncoding(tuple(fields))


def canonical_struct(fields: Iterable[StructField]) -> StructEncoding:
    """A struct with its fields in dictionary order: declaration order up to 4 fields,
    Scala 2.11 immutable ``HashMap`` order from 5 (§4.5 rule 1)."""
    fs = list(fields)
    if len(fs) >= 5:
        order = json_key_order([f.name for f in fs])
        fs.sort(key=lambda f: order.index(f.name))
    return StructEncoding(tuple(fs))


def render_encoding(encoding: Encoding, declared: bool = False) -> str:
    """``string``, ``(f:type,f2:type*)`` or ``[type]``.

    With ``declared`` false, the dictionary text of §3.5 and §9.5 (``cat-dictionary``,
    ``convert-dictionary``, ``.dictionary`` extract files, messages): struct fields in the
    order of :func:`canonical_struct` — declaration order up to 4 fields, Scala
    ``HashMap`` order from 5 (§4.5 rules 1 and 5; T: thrift-structs ``.dictionary``
    ``(s:string,i:int,b:boolean,l:long,d:double)`` for ``(b,i,l,d,s)``).

    With ``declared`` true, fields in declaration order: the text job plans carry
    (feature table, squash table), which :func:`parse_encoding` reads back unchanged, so
    jobs store and render struct values in the declared order (§4.5 rules 2-4 depend on it;
    T: thrift-structs ``{"d":…,"s":…,"b":…}``).
    """
    if isinstance(encoding, PrimitiveEncoding):
        return encoding.value
    if isinstance(encoding, ListEncoding):
        return f"[{render_encoding(encoding.element, declared)}]"
    fields = encoding.fields if declared else canonical_struct(encoding.fields).fields
    return "(" + ",".join(f"{f.name}:{f.encoding.value}{'*' * f.optional}" for f in fields) + ")"


def render_tombstones(tombstones: Iterable[str]) -> str:
    """Join tombstones with ``,`` (§3.5). A tombstone containing ``,`` or ``"``, or with
    spaces at either end, is CSV-quoted so that :func:`parse_tombstones` reads it back
    (upstream joins them unquoted; the tombstones of the test data need no quotes)."""

    def quote(t: str) -> str:
        plain = "," not in t and '"' not in t and t == java_trim(t)
        return t if plain else '"' + t.replace('"', '""') + '"'

    return ",".join(quote(t) for t in tombstones)


# ---------------------------------------------------------------------------------------------
# Validation (§3.2)

MAX_DEFINITIONS = 32767


def validate_dictionary(old: Dictionary | None, new: Dictionary) -> list[str]:
    """Every validation message of §3.2 for importing ``new`` over ``old`` (empty if valid).

    Returns the messages rather than raising, because ``import-dictionary`` prints them all
    even with ``--force`` (§3.4). Checks ``new`` on its own (keyed_set keys, virtual sources,
    expressions and filters against the source encoding, at most 32767 definitions), then
    every feature of ``old`` that ``new`` still defines: an encoding change, a struct field
    removed, added as mandatory or made mandatory, a concrete feature made virtual. A
    virtual feature may become anything. Paths print as ``<fid>:<struct field>``.
    """
    messages: list[str] = []
    winners = new.by_feature
    for d in new.definitions:
        if winners[d.feature] is not d:
            continue
        if isinstance(d, ConcreteDefinition):
            messages.extend(_keyed_set_messages(d))
            continue
        source = new.concrete(d.source)
        if source is None:
            messages.append(f"Supplied source '{d.source}' not found at {d.feature}: or is invalid")
            continue
        try:
            expression_encoding(parse_expression(d.expression), source.encoding)
        except DictionaryError as e:
            messages.append(f"Invalid expression at {d.feature}: {e} in '{d.expression}'")
        if d.filter is not None:
            try:
                parse_filter(d.filter, source.encoding)
            except DictionaryError as e:
                messages.append(f"Invalid filter at {d.feature}: {e} in '{d.filter}'")
    if len(new.definitions) > MAX_DEFINITIONS:
        messages.append(
            f"Dictionary has {len(new.definitions)} definitions, more than {MAX_DEFINITIONS}"
        )
    for fid, before in (old.by_feature if old is not None else {}).items():
        after = winners.get(fid)
        if after is None or not isinstance(before, ConcreteDefinition):
            continue
        if isinstance(after, VirtualDefinition):
            messages.append(f"Feature {fid} cannot change from concrete to virtual")
        else:
            messages.extend(_encoding_messages(before.encoding, after.encoding, f"{fid}:"))
    return messages


def _keyed_set_messages(d: ConcreteDefinition) -> list[str]:
    if d.mode.kind != "keyed_set":
        return []
    enc = d.encoding
    if not isinstance(enc, StructEncoding):
        return [f"Encoding {render_encoding(enc)} of {d.feature}: "
                "only structs are supported for keyed_set"]  # fmt: skip
    out = []
    for key in d.mode.keys:
        f = enc.field(key)
        if f is None:
            out.append(f"The key '{key}' required for keyed_set at {d.feature} is missing")
        elif f.optional:
            out.append(f"The struct field {d.feature}:{key} needs to be mandatory for keyed_set")
    return out


def _encoding_messages(before: Encoding, after: Encoding, path: str) -> list[str]:
    if isinstance(before, ListEncoding) and isinstance(after, ListEncoding):
        b, a = before.element, after.element
        if isinstance(b, StructEncoding) and isinstance(a, StructEncoding):
            before, after = b, a  # lists of structs: compare the structs
    if not (isinstance(before, StructEncoding) and isinstance(after, StructEncoding)):
        if _same_encoding(before, after):
            return []
        return [f"Encoding changed from {scala_dump(before)} to {scala_dump(after)} at {path}"]
    out = [f"Struct field was removed {path}{f.name}" for f in before.fields
           if after.field(f.name) is None]  # fmt: skip
    for f in after.fields:
        was = before.field(f.name)
        if was is not None and was.encoding is not f.encoding:
            out.extend(_encoding_messages(was.encoding, f.encoding, f"{path}{f.name}"))
        elif was is None and not f.optional:
            out.append(f"New struct field {path}{f.name} must be optional")
        elif was is not None and was.optional and not f.optional:
            out.append(f"Struct field {path}{f.name} was made mandatory")
    return out


def _same_encoding(a: Encoding, b: Encoding) -> bool:
    """Equality with struct fields compared as a map (upstream structs are maps)."""
    if isinstance(a, ListEncoding) and isinstance(b, ListEncoding):
        return _same_encoding(a.element, b.element)
    if isinstance(a, StructEncoding) and isinstance(b, StructEncoding):
        return set(a.fields) == set(b.fields)
    return a == b


_SCALA_PRIMITIVE = {p: p.name.capitalize() + "Encoding" for p in PrimitiveEncoding}


def scala_dump(encoding: Encoding) -> str:
    """The Scala case-class ``toString`` of an encoding, as upstream prints it in
    ``Encoding changed from <old> to <new>`` (§3.2): ``EncodingPrim(BooleanEncoding)``,
    ``EncodingStruct(StructEncoding(Map(a -> StructEncodedValue(StringEncoding,false))))``,
    ``EncodingList(ListEncoding(SubPrim(IntEncoding)))``."""

    def struct(s: StructEncoding) -> str:
        fields = canonical_struct(s.fields).fields
        values = [(f.name, _SCALA_PRIMITIVE[f.encoding], str(f.optional).lower()) for f in fields]
        items = ", ".join(f"{n} -> StructEncodedValue({e},{o})" for n, e, o in values)
        return f"StructEncoding(Map({items}))"

    if isinstance(encoding, PrimitiveEncoding):
        return f"EncodingPrim({_SCALA_PRIMITIVE[encoding]})"
    if isinstance(encoding, StructEncoding):
        return f"EncodingStruct({struct(encoding)})"
    el = encoding.element
    sub = f"SubPrim({_SCALA_PRIMITIVE[el]})" if isinstance(el, PrimitiveEncoding) else (
        f"SubStruct({struct(el)})")  # fmt: skip
    return f"EncodingList(ListEncoding({sub}))"


# ---------------------------------------------------------------------------------------------
# Extract ``.dictionary`` file (§9.5)


def render_extract_dictionary(d: Dictionary, missing: str) -> str:
    """The ``.dictionary`` file of an extract (§9.5): one line per feature in feature-index
    order, ``<index>|<namespace>|<name>|<encoding>|<type>|<description>|<missing>\\n``.

    A virtual feature prints its expression's result encoding (§3.6) with an empty type and
    description. ``missing`` is the output's missing value (``NA``; empty for thrift).

    Raises:
        DictionaryError: a virtual feature whose source or expression is invalid.
    """
    lines = []
    for i, fid in enumerate(d.sorted_features()):
        defn = d.by_feature[fid]
        if isinstance(defn, ConcreteDefinition):
            enc, ftype, desc = defn.encoding, defn.type.value if defn.type else "", defn.description
        else:
            source = d.concrete(defn.source)
            if source is None:
                raise DictionaryError(f"Supplied source '{defn.source}' not found at {fid}:")
            enc = expression_encoding(parse_expression(defn.expression), source.encoding)
            ftype = desc = ""
        lines.append(
            f"{i}|{fid.namespace}|{fid.name}|{render_encoding(enc)}|{ftype}|{desc}|{missing}\n"
        )
    return "".join(lines)


# ---------------------------------------------------------------------------------------------
# Storage: compact-protocol ThriftDictionary (§2.4, D2.2)

_FORMAT_VERSION = 1
_UNITS = ("day", "week", "month", "year")  # ThriftWindowUnit 1..4
_MODES = ("state", "set", "keyed_set")  # ThriftModeKind 1..3
_PRIMS = tuple(PrimitiveEncoding)  # ThriftPrimitiveEncoding 1..6 in declaration order
_TYPES = tuple(FeatureType)  # ThriftFeatureType 1..4


def dictionary_to_bytes(d: Dictionary) -> bytes:
    """Serialise ``d`` as a compact-protocol ``ThriftDictionary`` (definition order kept;
    expression and filter text verbatim)."""
    from thrift.protocol.TCompactProtocol import TCompactProtocol
    from thrift.transport.TTransport import TMemoryBuffer

    from ivory.thrift.gen.dictionary import ttypes as t

    def prim(p: PrimitiveEncoding) -> int:
        return _PRIMS.index(p) + 1

    def struct(s: StructEncoding) -> t.ThriftStructEncoding:
        return t.ThriftStructEncoding(
            [t.ThriftStructField(f.name, prim(f.encoding), f.optional) for f in s.fields]
        )

    def encoding(e: Encoding) -> t.ThriftEncoding:
        if isinstance(e, PrimitiveEncoding):
            return t.ThriftEncoding(primitive=prim(e))
        if isinstance(e, StructEncoding):
            return t.ThriftEncoding(structEncoding=struct(e))
        el = e.element
        if isinstance(el, PrimitiveEncoding):
            return t.ThriftEncoding(listElement=t.ThriftListElement(primitive=prim(el)))
        return t.ThriftEncoding(listElement=t.ThriftListElement(structEncoding=struct(el)))

    def body(x: Definition) -> t.ThriftDefinitionBody:
        if isinstance(x, ConcreteDefinition):
            return t.ThriftDefinitionBody(
                concreteDefinition=t.ThriftConcreteDefinition(
                    encoding(x.encoding),
                    t.ThriftMode(_MODES.index(x.mode.kind) + 1, list(x.mode.keys)),
                    _TYPES.index(x.type) + 1 if x.type is not None else None,
                    x.description,
                    list(x.tombstones),
                )
            )
        w = x.window
        return t.ThriftDefinitionBody(
            virtualDefinition=t.ThriftVirtualDefinition(
                x.source.namespace,
                x.source.name,
                x.expression,
                x.filter,
                t.ThriftWindow(w.length, _UNITS.index(w.unit) + 1) if w is not None else None,
            )
        )

    value = t.ThriftDictionary(
        _FORMAT_VERSION,
        [t.ThriftDefinition(x.feature.namespace, x.feature.name, body(x)) for x in d.definitions],
    )
    buf = TMemoryBuffer()
    value.write(TCompactProtocol(buf))
    return buf.getvalue()


def dictionary_from_bytes(data: bytes) -> Dictionary:
    """Read a dictionary written by :func:`dictionary_to_bytes`.

    Raises:
        DictionaryError: the bytes are not a ThriftDictionary of a known format version.
    """
    from thrift.protocol.TCompactProtocol import TCompactProtocol
    from thrift.transport.TTransport import TMemoryBuffer

    from ivory.thrift.gen.dictionary import ttypes as t

    def struct(s: t.ThriftStructEncoding) -> StructEncoding:
        fields = (StructField(f.name, _PRIMS[f.encoding - 1], f.isOptional) for f in s.fields)
        return StructEncoding(tuple(fields))

    def encoding(e: t.ThriftEncoding) -> Encoding:
        if e.primitive is not None:
            return _PRIMS[e.primitive - 1]
        if e.structEncoding is not None:
            return struct(e.structEncoding)
        el = e.listElement
        if el.primitive is not None:
            return ListEncoding(_PRIMS[el.primitive - 1])
        return ListEncoding(struct(el.structEncoding))

    def definition(x: t.ThriftDefinition) -> Definition:
        fid = FeatureId(x.featureNamespace, x.featureName)
        c, v = x.body.concreteDefinition, x.body.virtualDefinition
        if c is not None:
            return ConcreteDefinition(
                fid,
                encoding(c.encoding),
                Mode(_MODES[c.mode.kind - 1], tuple(c.mode.keys)),
                _TYPES[c.featureType - 1] if c.featureType is not None else None,
                c.description,
                tuple(c.tombstones),
            )
        w = v.window
        return VirtualDefinition(
            fid,
            FeatureId(v.sourceNamespace, v.sourceName),
            v.expression,
            v.filter,
            Window(w.length, _UNITS[w.unit - 1]) if w is not None else None,
        )

    value = t.ThriftDictionary()
    try:
        buf = TMemoryBuffer(data)
        value.read(TCompactProtocol(buf))
        value.validate()
        if value.formatVersion != _FORMAT_VERSION:
            raise ValueError(f"unknown format version {value.formatVersion}")
        return Dictionary(tuple(definition(x) for x in value.definitions))
    except DictionaryError:
        raise
    except Exception as e:  # any decoding failure of untrusted bytes
        raise DictionaryError(f"Invalid stored dictionary: {e!r}") from e
