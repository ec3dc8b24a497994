"""Importing a dictionary into a repository (§3.4).

The change is validated against the dictionary it replaces *inside* the commit, so a commit
that lost a race re-validates against the winner's dictionary before retrying (D2.3).
"""

from __future__ import annotations

from collections.abc import Sequence

from ivory.dictionary import (
    dictionary_from_bytes,
    dictionary_to_bytes,
    merge_dictionaries,
    parse_dictionary_files,
    validate_dictionary,
)
from ivory.errors import DictionaryError
from ivory.metadata import RepositoryState
from ivory.repository import DICTIONARY_KEY, Repository


def import_dictionary(repository: Repository, files: Sequence[tuple[str, str]], *,
                      update: bool = False, force: bool = False) -> list[str]:
    """Parse, merge, validate and commit a dictionary (§3.4).

    Args:
        files: ``(path, text)`` pairs, concatenated in order.
        update: add to the current dictionary (``-u``) instead of replacing it.
        force: commit even when validation reports problems (``--force``).

    Returns:
        The validation messages (empty when valid); they were not fatal because of ``force``.

    Raises:
        DictionaryError: a parse error, or validation problems without ``force``; nothing was
            committed. ``messages`` holds every line to show.
    """
    new = parse_dictionary_files(list(files))
    messages: list[str] = []

    def change(state: RepositoryState | None) -> dict[str, bytes]:
        current = state.read(DICTIONARY_KEY) if state else None
        old = dictionary_from_bytes(current) if current else None
        merged = merge_dictionaries(old, new, update) if old else new
        messages[:] = validate_dictionary(old if old and not old.is_empty else None, merged)
        if messages and not force:
            raise DictionaryError(messages)
        return {DICTIONARY_KEY: dictionary_to_bytes(merged)}

    repository.commit(change)
    return messages
