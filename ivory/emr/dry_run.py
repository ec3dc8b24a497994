"""``--runner emr --dry-run``: plan a job exactly as a real run would, then print the
``RunJobFlow`` request instead of running it (:class:`ivory.emr.launch.EmrRunner` with
``dry_run``). Nothing calls AWS and nothing is written to the repository: the
:class:`DryRunRepository` hands out the id the next allocation would get without allocating
it, and refuses any write."""

from __future__ import annotations

from typing import Any

from ivory.errors import UsageError
from ivory.identifiers import is_identifier, next_identifier
from ivory.repository import Repository


def peek_next_id(repository: Repository, kind: str) -> str:
    """The id :meth:`Repository.allocate` would give next, without allocating it."""
    existing = [e.key[len(kind) + 1 : -1] for e in repository.data.list(f"{kind}/", "/")
                if e.is_prefix and is_identifier(e.key[len(kind) + 1 : -1])]
    return next_identifier(existing)


class DryRunRepository:
    """A read-only view of a repository for dry runs: ``allocate`` peeks, writes raise."""

    def __init__(self, repository: Repository) -> None:
        self._repository = repository

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repository, name)

    def allocate(self, kind: str) -> str:
        return peek_next_id(self._repository, kind)

    def commit(self, *_: Any, **__: Any) -> None:
        raise UsageError("a dry run commits nothing")

    def write_manifest(self, *_: Any, **__: Any) -> None:
        raise UsageError("a dry run writes no manifest")
