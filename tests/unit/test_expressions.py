"""Expressions (§3.6) and filters (§3.7): syntax, validation against encodings, result encodings."""

from __future__ import annotations

import datetime as dt

import pytest

from ivory.dictionary import parse_encoding, render_encoding
from ivory.encoding import PrimitiveEncoding as P
from ivory.errors import DictionaryError
from ivory.expressions import (
    Expression,
    FilterCompare,
    FilterGroup,
    expression_encoding,
    parse_expression,
    parse_filter,
    parse_primitive,
)

STRUCT = "(name:string,age:int,size:double*,when:date,flag:boolean*)"
PAIR = "(k:string,v:string,n:long,o:string*)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("count", Expression("count")),
        ("latest", Expression("latest")),
        ("latest,c", Expression("latest", field="c")),
        ("latestN,2", Expression("latestN", ("2",))),
        ("latestN,3,c", Expression("latestN", ("3",), "c")),
        ("count_unique,c", Expression("count_unique", field="c")),
        ("count_by", Expression("count_by")),
        ("count_by,k,v", Expression("count_by", ("k",), "v")),
        ("sum_by,k,v", Expression("sum_by", ("k",), "v")),
        ("latest_by,k", Expression("latest_by", ("k",))),
        ("proportion,a", Expression("proportion", ("a",))),
        ("proportion,a,c", Expression("proportion", ("a",), "c")),
        ("quantile_in_days,1,10", Expression("quantile_in_days", ("1", "10"))),
        ("proportion_by_time,6,18", Expression("proportion_by_time", ("6", "18"))),
        ("interval,mean", Expression("interval", ("mean",))),
        ("inverse,num_flips", Expression("inverse", inner=Expression("num_flips"))),
        ("inverse,sum,c", Expression("inverse", inner=Expression("sum", field="c"))),
        ("union", Expression("union")),
        ("days_since_earliest", Expression("days_since_earliest")),
    ],
)
def test_parse_expression_builds_the_tree_3_6(text: str, expected: Expression) -> None:
    assert parse_expression(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "", "foo", "count,x", "latestN", "latestN,x", "latestN,2,a,b", "sum,a,b",
        "quantile_in_days,1", "quantile_in_days,a,2", "proportion_by_time,1,24",
        "interval,foo", "interval", "inverse", "inverse,foo", "days_since_latest,a", "COUNT",
        "latest_by", "sum_by,k",
    ],
)  # fmt: skip
def test_unrecognised_expression_message_3_6(text: str) -> None:
    with pytest.raises(DictionaryError) as err:
        parse_expression(text)
    assert err.value.messages == [f"Unrecognised expression '{text}'"]


@pytest.mark.parametrize(
    ("text", "source", "result"),
    [
        # §9.5 / T: window expected/dictionary.psv
        ("count_by", "string", "()"),
        ("latestN,2", "string", "[string]"),
        ("days_since_earliest", "double", "int"),
        ("count", "int", "long"),
        ("proportion,a", "string", "double"),
        ("num_flips", "string", "long"),
        ("count_unique", "string", "long"),
        ("days_since_latest_by", "string", "()"),
        ("quantile_in_weeks,1,8", "double", "double"),
        ("maximum_in_days", "double", "int"),
        ("mean_in_weeks", "double", "double"),
        # §3.6 table
        ("sum", "int", "int"),
        ("sum", "double", "double"),
        ("min", "long", "long"),
        ("mean", "int", "double"),
        ("std_dev", "long", "double"),
        ("latest", STRUCT, render_encoding(parse_encoding(STRUCT))),
        ("latest,age", STRUCT, "int"),
        ("latestN,3", "(a:string,b:int)", "[(a:string,b:int)]"),
        ("latestN,2,name", STRUCT, "[string]"),
        ("sum,size", STRUCT, "double"),
        ("days_since,when", STRUCT, "int"),
        ("days_since", "date", "int"),
        ("count_by,age", STRUCT, "()"),
        ("count_by,k,v", PAIR, "()"),
        ("sum_by,k,n", PAIR, "()"),
        ("latest_by,k", PAIR, "()"),
        ("interval,min", "string", "long"),
        ("interval,gradient", "string", "double"),
        ("inverse,count", "string", "double"),
        ("inverse,sum", "int", "double"),
        ("union", "[string]", "[string]"),
        ("latest", "[(a:int)]", "[(a:int)]"),
        ("proportion_by_time,0,23", "string", "double"),
    ],
)
def test_result_encoding_3_6_9_5(text: str, source: str, result: str) -> None:
    encoding = expression_encoding(parse_expression(text), parse_encoding(source))
    assert render_encoding(encoding) == result


@pytest.mark.parametrize(
    ("text", "source", "reason"),
    [
        ("sum", "string", "Non-numeric encoding not supported"),
        ("mean,name", STRUCT, "Non-numeric encoding not supported"),
        ("days_since", "int", "Non-date encoding not supported"),
        ("count_unique", "int", "Non-string encoding not supported"),
        ("count_by", "double", "Encoding not supported, only string or int"),
        ("latestN,0", "string", "Only positive values supported for latestN"),
        ("latest,nope", STRUCT, "Struct field not found 'nope'"),
        ("sum,x", "int", "Expression with a field not supported"),
        ("count_unique", STRUCT, "Struct encoding not supported for the given expression"),
        ("latestN,2", "[string]", "List encoding not supported for the given expression"),
        ("union", "int", "union requires a list of string, int or date"),
        ("union", "[double]", "union requires a list of string, int or date"),
        ("inverse,count_by", "string", "Non numeric encoding for inverse"),
        ("inverse,sum", "string", "Non-numeric encoding not supported"),
        ("latest_by,o", PAIR, "latest_by key is required to be a non-optional string"),
        ("latest_by,k", "string", "latest_by requires struct encoding"),
        ("sum_by,n,n", PAIR, "sum_by key is required to be a string"),
        ("sum_by,k,v", PAIR, "sum_by field is required to be numerical"),
        ("count_by,k,n", PAIR, "count_by fields are required to be strings"),
        ("count_by,k,zz", PAIR, "Struct field not found 'zz'"),
        ("proportion,abc", "int", "Value 'abc' is not an integer"),
        ("interval,count_by", "string", "Non-supported interval sub expression 'count_by'"),
    ],
)
def test_expression_invalid_for_source_encoding_3_6(text: str, source: str, reason: str) -> None:
    with pytest.raises(DictionaryError) as err:
        expression_encoding(parse_expression(text), parse_encoding(source))
    assert err.value.messages == [reason]


def test_window_filter_example_parses_to_a_tree_3_7() -> None:
    """T: window ``or,(and,18),19,(and,(>=,20),(<,25))`` = 18 or 19 or 20 <= x < 25."""
    tree = parse_filter("or,(and,18),19,(and,(>=,20),(<,25))", P.INT)
    assert tree == FilterGroup(
        "or",
        (
            FilterGroup("and", (FilterCompare("=", 18),)),
            FilterCompare("=", 19),
            FilterGroup("and", (FilterCompare(">=", 20), FilterCompare("<", 25))),
        ),
    )


def test_struct_filter_pairs_fields_and_items_3_7() -> None:
    tree = parse_filter("and,name,(!=,x),age,(>=,18)", parse_encoding(STRUCT))
    assert tree == FilterGroup(
        "and", (FilterCompare("!=", "x", "name"), FilterCompare(">=", 18, "age"))
    )


def test_struct_filter_nested_groups_and_field_scoped_groups_3_7() -> None:
    tree = parse_filter("or,(and,name,a,when,2014-01-01),age,(or,1,2)", parse_encoding(STRUCT))
    assert tree == FilterGroup(
        "or",
        (
            FilterGroup(
                "and",
                (FilterCompare("=", "a", "name"), FilterCompare("=", dt.date(2014, 1, 1), "when")),
            ),
            FilterGroup("or", (FilterCompare("=", 1, "age"), FilterCompare("=", 2, "age"))),
        ),
    )


def test_filter_values_parse_with_the_source_encoding_3_7() -> None:
    assert parse_filter("or,TRUE", P.BOOLEAN) == FilterGroup("or", (FilterCompare("=", True),))
    assert parse_filter("and,(<=,1.5)", P.DOUBLE).items == (FilterCompare("<=", 1.5),)
    empty_and_a = (FilterCompare("=", ""), FilterCompare("=", "a"))
    assert parse_filter("or,,a", P.STRING).items == empty_and_a


@pytest.mark.parametrize(
    ("text", "source", "reason"),
    [
        ("xor,1", "int", "Invalid filter operation 'xor'"),
        ("and,(~,1)", "int", "Invalid filter operation '~'"),
        ("and,x", "int", "Value 'x' is not an integer"),
        ("and,(>,2014-02-30)", "date", "Value '2014-02-30' is not a date"),
        ("and", "int", "Invalid filter: 'and' needs at least one item"),
        ("and,(or)", "int", "Invalid filter: 'or' needs at least one item"),
        ("and,(=,1", "int", "Invalid filter: expected ')' at 8, found end of filter"),
        ("and,1)", "int", "Invalid filter: expected end of filter at 5, found ')'"),
        ("and,1(", "int", "Invalid filter: expected end of filter at 5, found '('"),
        ("and,nope,1", STRUCT, "Invalid filter: struct field 'nope' not found"),
        ("and,age", STRUCT, "Invalid filter: expected ',' at 7, found end of filter"),
        ("and,(=,1)", STRUCT, "Invalid filter: struct filters need field/value pairs"),
        ("or,a", "[string]", "Filtering lists is not supported"),
    ],
)
def test_invalid_filters_3_7(text: str, source: str, reason: str) -> None:
    with pytest.raises(DictionaryError) as err:
        parse_filter(text, parse_encoding(source))
    assert err.value.messages == [reason]


@pytest.mark.parametrize(
    ("encoding", "raw", "value"),
    [
        (P.BOOLEAN, "True", True),
        (P.BOOLEAN, "FALSE", False),
        (P.INT, "-2147483648", -(2**31)),
        (P.LONG, "+9223372036854775807", 2**63 - 1),
        (P.DOUBLE, "1e3", 1000.0),
        (P.DATE, "1600-03-01", dt.date(1600, 3, 1)),
        (P.STRING, " a ", " a "),
    ],
)
def test_constants_parse_with_java_rules_4_2(encoding: P, raw: str, value: object) -> None:
    assert parse_primitive(encoding, raw) == value


@pytest.mark.parametrize(
    ("encoding", "raw"),
    [(P.BOOLEAN, "yes"), (P.INT, "2147483648"), (P.INT, "1_000"), (P.DOUBLE, "NaN"),
     (P.DOUBLE, "inf"), (P.DATE, "1600-02-29"), (P.DATE, "2014-1-01")],
)  # fmt: skip
def test_bad_constants_raise_dictionary_error_4_2(encoding: P, raw: str) -> None:
    with pytest.raises(DictionaryError, match=f"Value '{raw}' is not"):
        parse_primitive(encoding, raw)
