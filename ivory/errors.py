"""The exceptions ivory raises. Every one is an :class:`IvoryError`.

The CLI prints ``str(error)`` as one line on stderr and exits with status 1 (§12.1, D6.2),
so messages say what failed, where, and why.
"""

from __future__ import annotations


class IvoryError(Exception):
    """Root of every error ivory raises on purpose."""


class UsageError(IvoryError, ValueError):
    """A command was called with missing or contradictory arguments."""


class StorageError(IvoryError, OSError):
    """A storage backend could not complete a request."""


class KeyExistsError(StorageError, FileExistsError):
    """A create-if-absent write found the key already present (D1.2)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"'{key}' already exists")
        self.key = key


class KeyNotFoundError(StorageError, FileNotFoundError):
    """A read found no object under the key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"'{key}' does not exist")
        self.key = key


class MetadataError(IvoryError, ValueError):
    """Metadata is malformed: a bad key, version or value (D2.1)."""


class MetadataConflictError(MetadataError):
    """A commit lost the race for the next version and could not be re-applied (D2.3)."""


class RepositoryError(IvoryError):
    """The repository is missing, not a repository, or at an unsupported version (§2.6)."""


class DictionaryError(IvoryError, ValueError):
    """A dictionary could not be parsed or failed validation (§3).

    ``messages`` holds every problem found, one line each (``Line <n>: <reason>``).
    """

    def __init__(self, messages: list[str] | str) -> None:
        if isinstance(messages, str):
            messages = [messages]
        self.messages = list(messages)
        super().__init__("\n".join(self.messages))


class ValueParseError(IvoryError, ValueError):
    """A raw text value does not parse with its feature's encoding (§4.2)."""


class IngestError(IvoryError):
    """An ingest cannot start or cannot complete (§5); nothing was committed."""


class JobError(IvoryError):
    """A Spark job failed or its output did not verify; nothing was committed."""


class SnapshotError(IvoryError):
    """A snapshot cannot be planned or extracted (§7, §9)."""
