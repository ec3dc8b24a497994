"""Identifiers of factsets and snapshots (§1.1): parsing, ordering, next id, overflow."""

from __future__ import annotations

import pytest

from ivory.errors import IvoryError
from ivory.identifiers import (
    MAX_ID,
    identifier_sort_key,
    is_identifier,
    next_identifier,
    parse_identifier,
    render_identifier,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00000000", "00000000"),
        ("0000000a", "0000000a"),
        ("0000000A", "0000000a"),  # §1.1: upper case parses, rendering is lower case
        ("DEADBEEF", "deadbeef"),
        ("ffffffff", "ffffffff"),
        ("00000", "00000"),  # legacy: 5 decimal digits, unchanged
        ("99999", "99999"),
    ],
)
def test_parse_identifier_current_and_legacy_s1_1(text: str, expected: str) -> None:
    assert is_identifier(text)
    assert parse_identifier(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "0", "0000000", "000000000", "0000000g", "0000 001", "1234", "123456", "0000a",
     "-0000001", "0x000001", "ID000000"],
)
def test_parse_identifier_rejects_other_text_s1_1(text: str) -> None:
    assert not is_identifier(text)
    with pytest.raises(IvoryError, match="not an identifier"):
        parse_identifier(text)


def test_identifier_with_trailing_newline_is_rejected_s1_1() -> None:
    """§1.1: exactly 8 hex digits (or exactly 5 decimal digits), nothing more."""
    assert not is_identifier("00000001\n")
    assert not is_identifier("00012\n")


def test_render_identifier_is_8_lower_case_hex_digits_s1_1() -> None:
    assert render_identifier(0) == "00000000"
    assert render_identifier(9) == "00000009"
    assert render_identifier(10) == "0000000a"
    assert render_identifier(0xABCDEF) == "00abcdef"
    assert render_identifier(MAX_ID) == "ffffffff"


@pytest.mark.parametrize("value", [-1, MAX_ID + 1])
def test_render_identifier_out_of_range_s1_1(value: int) -> None:
    with pytest.raises(IvoryError):
        render_identifier(value)


def test_ordering_legacy_before_current_then_numeric_s1_1() -> None:
    ids = ["0000000a", "99999", "00000010", "00000", "00000009", "ffffffff", "00100"]
    assert sorted(ids, key=identifier_sort_key) == [
        "00000", "00100", "99999", "00000009", "0000000a", "00000010", "ffffffff",
    ]
    # Numeric, not textual: the largest legacy id sorts before the smallest current id.
    assert identifier_sort_key("99999") < identifier_sort_key("00000000")


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        ([], "00000000"),  # first id in an empty location
        (["00000000"], "00000001"),
        (["00000009"], "0000000a"),  # hex, not decimal
        (["0000000F"], "00000010"),  # upper case input
        (["00000002", "00000000", "00000001"], "00000003"),  # order of the listing is irrelevant
        (["0000000a", "00000009"], "0000000b"),
        (["00012"], "00000000"),  # next of a legacy id is 00000000
        (["99999", "00000003"], "00000004"),  # current ids win over legacy ones
        (["fffffffe"], "ffffffff"),
    ],
)
def test_next_identifier_s1_1(existing: list[str], expected: str) -> None:
    assert next_identifier(existing) == expected


def test_next_identifier_overflow_after_ffffffff_s1_1() -> None:
    with pytest.raises(IvoryError):
        next_identifier(["00000000", "ffffffff"])


def test_next_identifier_rejects_non_identifiers_s1_1() -> None:
    with pytest.raises(IvoryError):
        next_identifier(["00000000", "junk"])
