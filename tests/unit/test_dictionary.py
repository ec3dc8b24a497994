"""The dictionary (§3): model, text formats, import, validation, Thrift storage, `.dictionary`."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivory.dictionary import (
    ConcreteDefinition,
    Dictionary,
    FeatureId,
    FeatureType,
    Mode,
    VirtualDefinition,
    Window,
    canonical_struct,
    dictionary_from_bytes,
    dictionary_to_bytes,
    merge_dictionaries,
    parse_dictionary,
    parse_dictionary_files,
    parse_encoding,
    render_dictionary,
    render_encoding,
    render_extract_dictionary,
    validate_dictionary,
)
from ivory.encoding import ListEncoding, PrimitiveEncoding, StructEncoding, StructField
from ivory.errors import DictionaryError
from ivory.javanum import java_trim

CONFORMANCE = Path(__file__).resolve().parents[3] / "shared" / "conformance"
CONFORMANCE_FILES = sorted(
    [*CONFORMANCE.glob("*/input/dictionary*.psv"), *CONFORMANCE.glob("*/expected/dictionary.psv")]
)
P = PrimitiveEncoding
fid = FeatureId.parse

# T: window input (trimmed), plus a latestN feature as in §9.5.
WINDOW = """\
halibut:swiss_cheese|encoding=double|tombstone=T
halibut:cooldown|source=halibut:swiss_cheese|window=1 month|expression=count
halibut:latte|source=halibut:swiss_cheese|window=2 months|expression=count
halibut:gradient|source=halibut:swiss_cheese|window=2 months|expression=gradient
expression:string|encoding=string|tombstone=T
expression:count_by|source=expression:string|window=2 months|expression=count_by
expression:latest_two|source=expression:string|window=2 months|expression=latestN,2
filter:age|encoding=int
filter:adult|source=filter:age|expression=count|window=2 months|\
filter=or,(and,18),19,(and,(>=,20),(<,25))|tombstone=T
"""

# T: data-regression input/dictionary.psv (v1 pipe format).
V1 = """\
halibut|preheat|boolean|categorical|11s|NA
halibut|swiss_cheese|double|binary|Gjc3K09|NA
sauerkraut|grapefruits|int|numerical|0JHiy6vqsszX6uiIxN4|NA
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(DictionaryError) as err:
        parse_dictionary(text)
    return err.value.messages


# --- §3.2 / §3.5 text format ------------------------------------------------------------------


@pytest.mark.skipif(not CONFORMANCE_FILES, reason="shared/conformance not present")
@pytest.mark.parametrize("path", CONFORMANCE_FILES, ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_conformance_dictionaries_parse_and_round_trip_3_2_3_5(path: Path) -> None:
    d = parse_dictionary(path.read_text(), str(path))
    assert d.definitions and all(isinstance(x, ConcreteDefinition) for x in d.definitions)
    assert parse_dictionary(render_dictionary(d)) == d
    assert dictionary_from_bytes(dictionary_to_bytes(d)) == d


def test_cat_dictionary_prints_mode_and_omits_defaults_3_5() -> None:
    d = parse_dictionary(
        "halibut:preheat|encoding=boolean|type=categorical|description=11s|tombstone=NA\n"
        "halibut:plain|encoding=string\n"
        "halibut:k|encoding=(a: string, b:int*)|mode=keyed_set,a|description= x \n"
    )
    assert render_dictionary(d) == (
        "halibut:preheat|encoding=boolean|mode=state|type=categorical|description=11s"
        "|tombstone=NA\n"
        "halibut:plain|encoding=string|mode=state\n"
        "halibut:k|encoding=(a:string,b:int*)|mode=keyed_set,a|description=x\n"
    )


def test_window_example_round_trip_3_5() -> None:
    """T: window: keys re-ordered, window last, ``1 month`` singular."""
    d = parse_dictionary(
        "halibut:cooldown|source=halibut:swiss_cheese|window=1 month|expression=count\n"
    )
    assert render_dictionary(d) == (
        "halibut:cooldown|source=halibut:swiss_cheese|expression=count|window=1 month\n"
    )


def test_virtual_render_keeps_filter_verbatim_3_5_3_7() -> None:
    line = WINDOW.splitlines()[-1]
    assert render_dictionary(parse_dictionary(line)) == (
        "filter:adult|source=filter:age|expression=count"
        "|filter=or,(and,18),19,(and,(>=,20),(<,25))|window=2 months\n"
    )


@pytest.mark.parametrize(
    ("text", "window", "rendered"),
    [("1 day", Window(1, "day"), "1 day"), ("1 days", Window(1, "day"), "1 day"),
     ("2 week", Window(2, "week"), "2 weeks"), ("3 months", Window(3, "month"), "3 months"),
     ("1 year", Window(1, "year"), "1 year"), ("0 years", Window(0, "year"), "0 years")],
)  # fmt: skip
def test_window_units_singular_for_one_3_2_3_5(text: str, window: Window, rendered: str) -> None:
    assert Window.parse(text) == window
    assert window.render() == rendered


@pytest.mark.parametrize("text", ["2  days", "2days", "two days", "-1 days", "1 fortnight", "2"])
def test_bad_window_3_2(text: str) -> None:
    with pytest.raises(DictionaryError, match=f"Invalid window '{text}'"):
        Window.parse(text)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("ns:a|encoding=int|encoding=int", "Field 'encoding' incorrectly defined multiple times"),
        ("ns:a|encoding=int| type =binary|type=binary",
         "Field 'type' incorrectly defined multiple times"),
        ("ns:a|encoding=int|source=ns:b|expression=count",
         "Must specify either 'encoding' or 'source' but not both"),
        ("ns:a|description=x", "Must either specify at least 'encoding' or 'source'"),
        ("ns:a", "Must either specify at least 'encoding' or 'source'"),
        ("ns:v|source=ns:a|expression=foo,bar", "Unrecognised expression 'foo,bar'"),
        ("ns:v|source=ns:a", "Missing 'expression' for the virtual feature with 'source'"),
        ("ns:v|source=ns:a|expression=count|window=1 fortnight", "Invalid window '1 fortnight'"),
        ("ns:a|encoding=int|mode=keyed", "Invalid mode 'keyed'"),
        ("ns:a|encoding=int|mode=keyed_set", "Invalid mode 'keyed_set'"),
        ("ns:a|encoding=int|type=Numerical", "Invalid type 'Numerical'"),
        ("ns:a|encoding=integer", "Invalid encoding 'integer'"),
        ("ns:a|encoding=[[int]]", "Invalid encoding '[[int]]'"),
        ("ns:a|encoding=(a:int,a:string)",
         "Invalid encoding '(a:int,a:string)': struct field 'a' repeated"),
        ("ns:a|encoding=(a:(b:int))",
         "Invalid encoding '(a:(b:int))': bad struct field 'a:(b:int)'"),
        ("ns:a|encoding=()", "Invalid encoding '()': bad struct field ''"),
        ("ns:a|encoding=int|tombstone=\"NA", "Invalid tombstone '\"NA': unterminated quote"),
        ("ns:a|encoding=int|oops", "Invalid attribute 'oops': expected <key>=<value>"),
        ("nsa|encoding=int", "Invalid feature id 'nsa': expected <namespace>:<name>"),
        ("_ns:a|encoding=int", "Invalid namespace '_ns' in feature id '_ns:a'"),
        ("", "Invalid feature id '': expected <namespace>:<name>"),
    ],
)  # fmt: skip
def test_parse_error_messages_3_2(line: str, message: str) -> None:
    assert errors_of(line + "\n") == [f"Line 1: {message}"]


def test_every_line_is_parsed_and_all_errors_collected_3_2() -> None:
    """Blank lines are not skipped; errors are numbered from 1 and all reported together."""
    text = "ns:a|encoding=int\n\nns:b|encoding=nope\nns:c|encoding=string\n"
    assert errors_of(text) == [
        "Line 2: Invalid feature id '': expected <namespace>:<name>",
        "Line 3: Invalid encoding 'nope'",
    ]


def test_trailing_newline_is_not_an_extra_line_3_2() -> None:
    assert len(parse_dictionary("ns:a|encoding=int\n").definitions) == 1
    assert len(parse_dictionary("ns:a|encoding=int").definitions) == 1
    assert parse_dictionary("").is_empty
    assert errors_of("ns:a|encoding=int\n\n") == [
        "Line 2: Invalid feature id '': expected <namespace>:<name>"
    ]


def test_unknown_keys_ignored_and_values_trimmed_3_2() -> None:
    (d,) = parse_dictionary("ns:a| encoding = int |colour=blue| description = a b \n").definitions
    assert d == ConcreteDefinition(fid("ns:a"), P.INT, Mode(), None, "a b", ())
    (v,) = parse_dictionary("ns:v|source=ns:a|expression=count|tombstone=T").definitions
    assert v == VirtualDefinition(fid("ns:v"), fid("ns:a"), "count")


def test_tombstones_use_csv_rules_and_empty_gives_one_empty_tombstone_3_2() -> None:
    """QUIRK: ``tombstone=`` is the single tombstone ``""``."""
    d = parse_dictionary(
        'ns:a|encoding=int|tombstone=\nns:b|encoding=int|tombstone="a,b",NA,"x""y"\n'
    )
    a, b = d.definitions
    assert isinstance(a, ConcreteDefinition) and a.tombstones == ("",)
    assert isinstance(b, ConcreteDefinition) and b.tombstones == ("a,b", "NA", 'x"y')
    assert render_dictionary(d) == (
        "ns:a|encoding=int|mode=state|tombstone=\n"
        'ns:b|encoding=int|mode=state|tombstone="a,b",NA,"x""y"\n'
    )
    assert parse_dictionary(render_dictionary(d)) == d


def test_encodings_structs_with_spaces_and_lists_3_2() -> None:
    """T: thrift-structs ``(b: boolean*, i: int*)``."""
    assert parse_encoding("(b: boolean*, i: int*)") == StructEncoding(
        (StructField("b", P.BOOLEAN, True), StructField("i", P.INT, True))
    )
    assert parse_encoding("[string]") == ListEncoding(P.STRING)
    assert parse_encoding("[(a:string,b:date *)]") == ListEncoding(
        StructEncoding((StructField("a", P.STRING), StructField("b", P.DATE, True)))
    )
    assert (
        render_encoding(parse_encoding(" [ ( a : string , b:date*) ] ")) == "[(a:string,b:date*)]"
    )


def test_struct_with_five_fields_renders_in_scala_hash_map_order_4_5() -> None:
    """§4.5 rule 1: ``{b,i,l,d,s}`` -> ``s,i,b,l,d``; <= 4 fields keep declaration order."""
    declared = StructEncoding(
        tuple(StructField(n, e) for n, e in
              [("b", P.BOOLEAN), ("i", P.INT), ("l", P.LONG), ("d", P.DOUBLE), ("s", P.STRING)])
    )  # fmt: skip
    assert render_encoding(declared) == "(s:string,i:int,b:boolean,l:long,d:double)"
    assert render_encoding(parse_encoding("(b:boolean,i:int,l:long,d:double,s:string)")) == (
        "(s:string,i:int,b:boolean,l:long,d:double)"
    )
    assert render_encoding(parse_encoding("(l:long,b:boolean,a:int)")) == "(l:long,b:boolean,a:int)"
    assert canonical_struct(declared.fields) == parse_encoding(render_encoding(declared))


THRIFT_STRUCTS = "(b: boolean*, i: int*, l: long*, d: double*, s: string*)"


def test_struct_encodings_keep_declaration_order_4_5_rule_5() -> None:
    """§4.5 (T: thrift-structs): a parsed struct keeps its declared field order, also with
    5 or more fields; only the dictionary text (§3.5, §9.5) prints the HashMap order, while
    ``declared=True`` (job plans) keeps the declared order and parses back unchanged."""
    enc = parse_encoding(THRIFT_STRUCTS)
    assert [f.name for f in enc.fields] == ["b", "i", "l", "d", "s"]
    assert render_encoding(enc) == "(s:string*,i:int*,b:boolean*,l:long*,d:double*)"
    assert render_encoding(enc, declared=True) == (
        "(b:boolean*,i:int*,l:long*,d:double*,s:string*)")
    assert parse_encoding(render_encoding(enc, declared=True)) == enc
    assert render_encoding(ListEncoding(enc), declared=True) == (
        "[(b:boolean*,i:int*,l:long*,d:double*,s:string*)]")
    assert render_encoding(ListEncoding(enc)) == "[(s:string*,i:int*,b:boolean*,l:long*,d:double*)]"


def test_struct_values_render_in_declared_insertion_order_4_5_rule_2() -> None:
    """§4.5 rule 2 depends on insertion order within a bucket: fed with the declared order
    ``(b,i,l,d,s)`` a stored ``{b,d,s}`` prints ``d,s,b`` as in T: thrift-structs
    snapshot.psv (the HashMap order ``(s,i,b,l,d)`` would print ``d,b,s``)."""
    from ivory.values import render_value

    enc = parse_encoding(THRIFT_STRUCTS)
    value = {"b": False, "d": 6.28318530718, "s": "bar"}
    assert render_value(enc, value) == '{"d":6.28318530718,"s":"bar","b":false}'
    assert render_value(enc, {"i": 12345, "l": 1234567898765432}) == (
        '{"l":1234567898765432,"i":12345}')


def test_job_plans_carry_declared_struct_order_4_5() -> None:
    """§4.5: the feature and squash tables of job plans keep the declared order, so jobs
    store struct fields in it; the ``.dictionary`` file (§9.5) prints the HashMap order."""
    from ivory.planning import build_feature_table, build_squash_table

    d = parse_dictionary(f"halibut:optional|encoding={THRIFT_STRUCTS}\n"
                         "halibut:n|source=halibut:optional|expression=count\n")
    declared = "(b:boolean*,i:int*,l:long*,d:double*,s:string*)"
    assert build_feature_table(d)[1]["encoding"] == declared
    assert build_squash_table(d)[0]["encoding"] == declared
    assert render_extract_dictionary(d, "").splitlines()[1] == (
        "1|halibut|optional|(s:string*,i:int*,b:boolean*,l:long*,d:double*)|||")


def test_v1_format_is_auto_detected_3_3_11_9() -> None:
    """T: data-regression input; convert-dictionary prints §3.5 concrete lines."""
    d = parse_dictionary(V1)
    assert d.definitions[0] == ConcreteDefinition(
        fid("halibut:preheat"), P.BOOLEAN, Mode(), FeatureType.CATEGORICAL, "11s", ("NA",)
    )
    assert render_dictionary(d).splitlines()[0] == (
        "halibut:preheat|encoding=boolean|mode=state|type=categorical|description=11s|tombstone=NA"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("halibut|a|boolean|categorical|x|NA|extra", "Expected 6 '|'-separated fields"),
        ("halibut|a|(a:int)|categorical|x|NA", "the v1 format has primitives only"),
        ("halibut|a|int||x|NA", "Invalid type ''"),
        ("_h|a|int|binary|x|NA", "Invalid namespace '_h'"),
    ],
)
def test_v1_errors_3_3(line: str, message: str) -> None:
    (error,) = errors_of(V1 + line + "\n")
    assert error.startswith("Line 4: ") and message in error


def test_v1_tombstones_split_like_java_3_3() -> None:
    tombs = [
        d.tombstones
        for d in parse_dictionary("a|b|int|binary|x|\na|c|int|binary|x|T,NA,\n").definitions
        if isinstance(d, ConcreteDefinition)
    ]
    assert tombs == [("",), ("T", "NA")]


def test_format_detected_per_file_and_files_concatenated_3_2_3_3() -> None:
    d = parse_dictionary_files([("v1.psv", V1), ("v2.psv", "ns:a|encoding=int\n")])
    assert [str(x.feature) for x in d.definitions] == [
        "halibut:preheat", "halibut:swiss_cheese", "sauerkraut:grapefruits", "ns:a"
    ]  # fmt: skip
    with pytest.raises(DictionaryError) as err:
        parse_dictionary_files([("a.psv", "ns:a|encoding=x\n"), ("b.psv", "bad\n")])
    assert err.value.messages == [
        "a.psv: Line 1: Invalid encoding 'x'",
        "b.psv: Line 1: Invalid feature id 'bad': expected <namespace>:<name>",
    ]


# --- §1.2 feature ids and the model -----------------------------------------------------------


def test_feature_id_parse_and_str_1_2() -> None:
    assert fid("ns:a:b") == FeatureId("ns", "a:b")
    assert str(FeatureId("HALIBUT", "preheat")) == "HALIBUT:preheat"
    with pytest.raises(DictionaryError):
        fid("n s:a")
    with pytest.raises(DictionaryError):
        fid("x" * 256 + ":a")


def test_feature_id_order_is_namespace_then_name_in_utf16_order_1_2() -> None:
    ids = [fid("halibut:b"), fid("filter_state:a"), fid("filter:z"), fid("HALIBUT:c")]
    assert [str(i) for i in sorted(ids)] == [
        "HALIBUT:c", "filter:z", "filter_state:a", "halibut:b"
    ]  # fmt: skip
    # Java compares UTF-16 code units: a surrogate pair sorts below U+FFFF.
    assert FeatureId("ns", "\U0001f600") < FeatureId("ns", "\uffff")


def test_feature_index_covers_concrete_and_virtual_in_id_order_1_2() -> None:
    d = parse_dictionary(WINDOW)
    assert [str(f) for f in d.sorted_features()] == [
        "expression:count_by", "expression:latest_two", "expression:string", "filter:adult",
        "filter:age", "halibut:cooldown", "halibut:gradient", "halibut:latte",
        "halibut:swiss_cheese",
    ]  # fmt: skip
    assert d.feature_index[fid("filter:adult")] == 3
    assert d.namespaces == {"expression", "filter", "halibut"}


def test_later_definition_wins_and_lookups_3_1() -> None:
    d = parse_dictionary(
        "ns:a|encoding=int\nns:v|source=ns:a|expression=count\nns:a|encoding=string\n"
    )
    assert d.concrete(fid("ns:a")) == ConcreteDefinition(fid("ns:a"), P.STRING)
    assert d.concrete(fid("ns:v")) is None and d.concrete(fid("ns:zz")) is None
    assert isinstance(d.get(fid("ns:v")), VirtualDefinition)
    assert len(d.sorted_features()) == 2 and not d.is_empty
    assert Dictionary().is_empty


def test_virtuals_of_is_reverse_stored_order_8_5() -> None:
    """QUIRK §8.5: ``cooldown`` is declared first and emitted last."""
    d = parse_dictionary(WINDOW)
    names = [v.feature.name for v in d.virtuals_of(fid("halibut:swiss_cheese"))]
    assert names == ["gradient", "latte", "cooldown"]
    assert d.virtuals_of(fid("filter:adult")) == []


# --- §3.4 import ------------------------------------------------------------------------------


def test_merge_override_and_update_3_4() -> None:
    old = parse_dictionary("ns:a|encoding=int\nns:b|encoding=int\n")
    new = parse_dictionary("ns:b|encoding=string\nns:c|encoding=int\n")
    assert merge_dictionaries(old, new, update=False) == new
    merged = merge_dictionaries(old, new, update=True)
    assert render_dictionary(merged) == (
        "ns:a|encoding=int|mode=state\nns:b|encoding=string|mode=state\n"
        "ns:c|encoding=int|mode=state\n"
    )


@pytest.mark.skipif(not (CONFORMANCE / "invalid-dictionary").is_dir(), reason="no conformance")
def test_invalid_dictionary_scenario_3_4() -> None:
    """T: invalid-dictionary: refused with ``Encoding changed``; forced import stores the merge."""
    case = CONFORMANCE / "invalid-dictionary"
    old = parse_dictionary((case / "input" / "dictionary.psv").read_text())
    bad = parse_dictionary((case / "input" / "dictionary-bad.psv").read_text())
    merged = merge_dictionaries(old, bad, update=True)
    messages = validate_dictionary(old, merged)
    assert messages and all(m.startswith("Encoding changed") for m in messages)
    assert messages[0] == (
        "Encoding changed from EncodingPrim(BooleanEncoding) to EncodingPrim(StringEncoding)"
        " at halibut:preheat:"
    )
    lines = sorted(render_dictionary(merged).splitlines(keepends=True), key=str.encode)
    assert "".join(lines).encode() == (case / "expected" / "dictionary.psv").read_bytes()


# --- §3.2 validation --------------------------------------------------------------------------


def validate(text: str, old: str | None = None) -> list[str]:
    return validate_dictionary(parse_dictionary(old) if old else None, parse_dictionary(text))


def test_valid_dictionaries_have_no_messages_3_2() -> None:
    assert validate(WINDOW) == []
    assert validate("ns:k|encoding=(a:string,b:string,c:int*)|mode=keyed_set,a,b\n") == []


def test_keyed_set_checks_3_2() -> None:
    assert validate("ns:k|encoding=int|mode=keyed_set,a\n") == [
        "Encoding int of ns:k: only structs are supported for keyed_set"
    ]
    assert validate("ns:k|encoding=(a:string,b:int*)|mode=keyed_set,b,c\n") == [
        "The struct field ns:k:b needs to be mandatory for keyed_set",
        "The key 'c' required for keyed_set at ns:k is missing",
    ]


def test_virtual_source_expression_and_filter_checks_3_2() -> None:
    text = (
        "ns:a|encoding=string\n"
        "ns:v|source=ns:missing|expression=count\n"
        "ns:w|source=ns:v|expression=count\n"
        "ns:x|source=ns:a|expression=sum\n"
        "ns:y|source=ns:a|expression=count|filter=xor,a\n"
    )
    assert validate(text) == [
        "Supplied source 'ns:missing' not found at ns:v: or is invalid",
        "Supplied source 'ns:v' not found at ns:w: or is invalid",
        "Invalid expression at ns:x: Non-numeric encoding not supported in 'sum'",
        "Invalid filter at ns:y: Invalid filter operation 'xor' in 'xor,a'",
    ]


def test_more_than_32767_definitions_3_2() -> None:
    defs = tuple(ConcreteDefinition(FeatureId("ns", f"f{i}"), P.INT) for i in range(32768))
    assert validate_dictionary(None, Dictionary(defs)) == [
        "Dictionary has 32768 definitions, more than 32767"
    ]
    assert validate_dictionary(None, Dictionary(defs[:32767])) == []


@pytest.mark.parametrize(
    ("before", "after", "messages"),
    [
        ("int", "int", []),
        ("(a:int,b:string)", "(b:string,a:int)", []),
        ("(a:int)", "(a:int,b:string*)", []),
        ("(a:int)", "(a:int*)", []),
        ("boolean", "string",
         ["Encoding changed from EncodingPrim(BooleanEncoding) to EncodingPrim(StringEncoding)"
          " at ns:a:"]),
        ("[int]", "[long]",
         ["Encoding changed from EncodingList(ListEncoding(SubPrim(IntEncoding))) to "
          "EncodingList(ListEncoding(SubPrim(LongEncoding))) at ns:a:"]),
        ("int", "(a:int)",
         ["Encoding changed from EncodingPrim(IntEncoding) to EncodingStruct(StructEncoding("
          "Map(a -> StructEncodedValue(IntEncoding,false)))) at ns:a:"]),
        ("(a:int,b:string)", "(a:int)", ["Struct field was removed ns:a:b"]),
        ("(a:int)", "(a:int,b:string)", ["New struct field ns:a:b must be optional"]),
        ("(a:int*)", "(a:int)", ["Struct field ns:a:a was made mandatory"]),
        ("[(a:int*)]", "[(a:long*)]",
         ["Encoding changed from EncodingPrim(IntEncoding) to EncodingPrim(LongEncoding)"
          " at ns:a:a"]),
    ],
)  # fmt: skip
def test_changes_against_previous_dictionary_3_2(
    before: str, after: str, messages: list[str]
) -> None:
    assert validate(f"ns:a|encoding={after}\n", f"ns:a|encoding={before}\n") == messages


def test_concrete_to_virtual_refused_and_virtual_to_anything_allowed_3_2() -> None:
    old = "ns:s|encoding=int\nns:a|encoding=int\nns:v|source=ns:s|expression=count\n"
    new = "ns:s|encoding=int\nns:a|source=ns:s|expression=count\nns:v|encoding=string\n"
    assert validate(new, old) == ["Feature ns:a cannot change from concrete to virtual"]
    assert validate("ns:other|encoding=string\n", old) == []


# --- §2.4 storage and §9.5 extract dictionary -------------------------------------------------


def test_thrift_round_trip_keeps_order_and_text_2_4() -> None:
    d = parse_dictionary(
        WINDOW + "ns:k|encoding=[(b:boolean,i:int*,l:long,d:double,s:string)]|mode=keyed_set,b,l"
        '|type=binary|description=d|tombstone=,"a,b"\n'
        "ns:s|encoding=date|mode=set\n"
    )
    back = dictionary_from_bytes(dictionary_to_bytes(d))
    assert back == d and back.definitions == d.definitions
    assert render_dictionary(back) == render_dictionary(d)


@pytest.mark.parametrize("data", [b"", b"\x00\x01garbage", dictionary_to_bytes(Dictionary())[:-1]])
def test_bad_stored_bytes_raise_dictionary_error_2_4(data: bytes) -> None:
    with pytest.raises(DictionaryError, match="Invalid stored dictionary"):
        dictionary_from_bytes(data)


def test_extract_dictionary_file_9_5() -> None:
    text = render_extract_dictionary(parse_dictionary(WINDOW), "NA")
    assert text.splitlines() == [
        "0|expression|count_by|()|||NA",
        "1|expression|latest_two|[string]|||NA",
        "2|expression|string|string|||NA",
        "3|filter|adult|long|||NA",
        "4|filter|age|int|||NA",
        "5|halibut|cooldown|long|||NA",
        "6|halibut|gradient|double|||NA",
        "7|halibut|latte|long|||NA",
        "8|halibut|swiss_cheese|double|||NA",
    ]
    assert text.endswith("\n")


def test_extract_dictionary_thrift_has_empty_missing_9_5() -> None:
    """T: thrift-structs ``0|halibut|mandatory|(s:string,i:int,b:boolean,l:long,d:double)|||``."""
    d = parse_dictionary(
        "halibut:mandatory|encoding=(b:boolean,i:int,l:long,d:double,s:string)\n"
        "halibut:n|encoding=int|type=numerical|description=a number\n"
    )
    assert render_extract_dictionary(d, "") == (
        "0|halibut|mandatory|(s:string,i:int,b:boolean,l:long,d:double)|||\n"
        "1|halibut|n|int|numerical|a number|\n"
    )


# --- property: parse(render(d)) == d ----------------------------------------------------------

_TEXT = st.characters(blacklist_characters="|\n", blacklist_categories=("Cs",))
_IDENT = st.from_regex(r"[a-z_][a-z0-9_]{0,5}", fullmatch=True)
_PRIM = st.sampled_from(list(PrimitiveEncoding))
_STRUCT = st.lists(
    st.builds(StructField, _IDENT, _PRIM, st.booleans()),
    min_size=1, max_size=7, unique_by=lambda f: f.name,
).map(canonical_struct)  # fmt: skip
_ENCODING = st.one_of(_PRIM, _STRUCT, st.builds(ListEncoding, st.one_of(_PRIM, _STRUCT)))
_NAMESPACE = st.from_regex(r"[A-Za-z0-9-][A-Za-z0-9_-]{0,8}", fullmatch=True)
_FID = st.builds(FeatureId, _NAMESPACE, st.text(_TEXT, max_size=8))
_VALUE = st.text(_TEXT, max_size=10).filter(lambda s: s == java_trim(s))  # values are trimmed
_SOURCE = st.builds(FeatureId, _NAMESPACE, _VALUE)
_MODE = st.one_of(
    st.sampled_from([Mode(), Mode("set")]),
    st.lists(_IDENT, min_size=1, max_size=3).map(lambda k: Mode("keyed_set", tuple(k))),
)
_CONCRETE = st.builds(
    ConcreteDefinition, _FID, _ENCODING, _MODE, st.one_of(st.none(), st.sampled_from(FeatureType)),
    _VALUE, st.lists(st.text(_TEXT, max_size=5), max_size=3).map(tuple),
)  # fmt: skip
_EXPRESSIONS = ["count", "latest", "latestN,2", "sum,a", "count_by,k,v", "inverse,mean",
                "quantile_in_days,1,10", "proportion,x", "interval,max", "union"]  # fmt: skip
_VIRTUAL = st.builds(
    VirtualDefinition, _FID, _SOURCE, st.sampled_from(_EXPRESSIONS), st.one_of(st.none(), _VALUE),
    st.one_of(st.none(), st.builds(Window, st.integers(0, 2**31 - 1),
                                   st.sampled_from(["day", "week", "month", "year"]))),
)  # fmt: skip
_DICTIONARY = st.lists(st.one_of(_CONCRETE, _VIRTUAL), max_size=8).map(
    lambda ds: Dictionary(tuple(ds))
)


@settings(max_examples=300, deadline=None)
@given(_DICTIONARY)
def test_property_parse_render_and_thrift_round_trip_3_5_2_4(d: Dictionary) -> None:
    assert parse_dictionary(render_dictionary(d)) == d
    assert dictionary_from_bytes(dictionary_to_bytes(d)) == d
