"""``import_dictionary`` on a memory repository (§3.4, §2.3; T: invalid-dictionary)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from ivory.dictionaries import import_dictionary
from ivory.dictionary import ConcreteDefinition, FeatureId, parse_dictionary, render_dictionary
from ivory.encoding import PrimitiveEncoding
from ivory.errors import DictionaryError
from ivory.repository import DICTIONARY_KEY, Repository

INPUT = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "invalid-dictionary" / (
    "input")

GOOD_INLINE = """\
halibut:preheat|encoding=boolean|mode=state|type=categorical|description=11s|tombstone=NA
halibut:swiss_cheese|encoding=double|mode=state|type=binary|description=Gjc3K09|tombstone=NA
sauerkraut:chutney|encoding=double|mode=state|type=binary|description=tEe9GOSGH1mpDhN9SxqMuJG|tombstone=NA
"""
BAD_INLINE = """\
halibut:preheat|encoding=string|type=categorical|description=11s|tombstone=NA
halibut:swiss_cheese|encoding=string|type=binary|description=Gjc3K09|tombstone=NA
"""


def _text(name: str, fallback: str) -> tuple[str, str]:
    path = INPUT / name
    if path.is_file():
        return str(path), path.read_text(encoding="utf-8")
    return name, fallback


GOOD = _text("dictionary.psv", GOOD_INLINE)
BAD = _text("dictionary-bad.psv", BAD_INLINE)
PREHEAT = FeatureId("halibut", "preheat")
SWISS = FeatureId("halibut", "swiss_cheese")


@pytest.fixture
def repository() -> Repository:
    repository, _ = Repository.create(f"memory://test-dictionaries-{uuid.uuid4().hex}",
                                      "Australia/Sydney")
    return repository


def _dictionary_version(repository: Repository) -> int:
    return int(repository.state().pins[DICTIONARY_KEY])


def test_import_stores_exactly_the_file_s3_4(repository: Repository) -> None:
    assert import_dictionary(repository, [GOOD]) == []
    assert repository.dictionary() == parse_dictionary(GOOD[1])
    assert render_dictionary(repository.dictionary()) == GOOD[1]
    assert _dictionary_version(repository) == 1


def test_reimport_creates_a_new_dictionary_version_and_commit_s2_3(
        repository: Repository) -> None:
    import_dictionary(repository, [GOOD])
    first = repository.state()
    import_dictionary(repository, [GOOD])
    second = repository.state()
    assert second.version == first.version + 1
    assert second.pins[DICTIONARY_KEY] == first.pins[DICTIONARY_KEY] + 1
    assert repository.dictionary() == repository.dictionary(version=first.pins[DICTIONARY_KEY])


def test_import_without_update_replaces_s3_4(repository: Repository) -> None:
    import_dictionary(repository, [GOOD])
    import_dictionary(repository, [("other.psv", "other:x|encoding=int\n")])
    assert [str(d.feature) for d in repository.dictionary().definitions] == ["other:x"]


def test_update_merges_later_definition_wins_s3_4(repository: Repository) -> None:
    import_dictionary(repository, [("a.psv", "ns:a|encoding=int\nns:b|encoding=string\n")])
    import_dictionary(repository, [("b.psv", "ns:b|encoding=string|description=new\n"
                                             "ns:c|encoding=long\n")], update=True)
    dictionary = repository.dictionary()
    assert [str(d.feature) for d in dictionary.definitions] == ["ns:a", "ns:b", "ns:c"]
    b = dictionary.get(FeatureId("ns", "b"))
    assert isinstance(b, ConcreteDefinition) and b.description == "new"


def test_incompatible_update_fails_and_changes_nothing_s3_4(repository: Repository) -> None:
    import_dictionary(repository, [GOOD])
    before_state = repository.state()
    before = repository.dictionary()
    with pytest.raises(DictionaryError) as e:
        import_dictionary(repository, [BAD], update=True)
    assert any(m.startswith("Encoding changed") for m in e.value.messages)
    assert sum(m.startswith("Encoding changed") for m in e.value.messages) == 2
    assert repository.state() == before_state  # no commit
    assert repository.dictionary() == before
    assert repository.metadata.head(DICTIONARY_KEY) == before_state.pins[DICTIONARY_KEY]


def test_incompatible_update_with_force_commits_and_returns_messages_s3_4(
        repository: Repository) -> None:
    import_dictionary(repository, [GOOD])
    good = repository.dictionary()
    messages = import_dictionary(repository, [BAD], update=True, force=True)
    assert messages and all(m.startswith("Encoding changed") for m in messages)
    dictionary = repository.dictionary()
    # T: invalid-dictionary: the two halibut features are now strings with the bad file's
    # other attributes; the rest is unchanged.
    for fid in (PREHEAT, SWISS):
        d = dictionary.get(fid)
        assert isinstance(d, ConcreteDefinition)
        assert d.encoding == PrimitiveEncoding.STRING
        assert d.mode.render() == "state"
        assert d.tombstones == ("NA",)
    assert {d.feature for d in dictionary.definitions} == {d.feature for d in good.definitions}
    chutney = FeatureId("sauerkraut", "chutney")
    assert dictionary.get(chutney) == good.get(chutney)


def test_parse_error_commits_nothing_s3_2(repository: Repository) -> None:
    before = repository.state()
    with pytest.raises(DictionaryError) as e:
        import_dictionary(repository, [("x.psv", "halibut:a|encoding=int\nno-colon|x=y\n")],
                          force=True)
    assert e.value.messages and e.value.messages[0].startswith("Line 2:")
    assert repository.state() == before


def test_validation_of_the_new_dictionary_alone_s3_2(repository: Repository) -> None:
    text = "ns:v|source=ns:missing|expression=count\n"
    with pytest.raises(DictionaryError) as e:
        import_dictionary(repository, [("v.psv", text)])
    assert any("ns:missing" in m for m in e.value.messages)
    assert repository.dictionary().is_empty
