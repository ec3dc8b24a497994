"""Driver side of ingest (§5): plan, run the job, verify its output, commit.

Commit order (D5.6): the job writes ``factsets/<id>/`` and ``errors/<id>/``; the driver checks
every file the job reported is in storage with its size, writes the factset manifest, and only
then commits a ``store`` with the factset prepended. A failed job or a failed check commits
nothing: the factset stays unpublished.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ivory.errors import IngestError, JobError
from ivory.manifest import Manifest, ManifestFile
from ivory.planning import (
    InputSpec,
    TextFormat,
    assign_namespaces,
    build_ingest_plan,
    parse_input_spec,
)
from ivory.repository import STORE_KEY, Repository, check_timezone, parse_store, render_store
from ivory.storage import open_storage
from ivory.upstream import write_factset_view


class Runner(Protocol):
    def run(self, plan: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class IngestResult:
    """What an ingest did: the factset id, facts written, lines rejected (error records),
    and whether a commit published the factset (False when no fact was written, §5.6)."""

    factset_id: str
    facts: int
    errors: int
    committed: bool
    partitions: int = 0
    files: tuple[ManifestFile, ...] = field(default=(), repr=False)


def _is_thrift(text: str) -> bool:
    return text.split("=", 1)[0].partition("|")[0] == "sparse:thrift"


def _parse_input(text: str) -> InputSpec:
    """:func:`ivory.planning.parse_input_spec`, plus ``sparse:thrift`` (§5.5): namespaces
    and files are found as for text, the job reads SequenceFiles of Thrift facts."""
    if not _is_thrift(text):
        return parse_input_spec(text)
    head, path = text.split("=", 1)
    namespace = head.partition("|")[2]
    if not path:
        raise IngestError(f"invalid input '{text}': the path is empty")
    return InputSpec(TextFormat(), namespace or None, path)


def list_input(spec: InputSpec) -> dict[str, list[str]]:
    """List an input directory and group its files by namespace as absolute URIs.

    Raises:
        IngestError: the path is missing or not a directory (§5.1).
    """
    storage = open_storage(spec.path)
    files = [entry.key for entry in storage.list("", None)]
    if not files:
        raise IngestError(f"Invalid file {spec.path} - must be a directory with input files")
    groups = assign_namespaces(spec, files)
    return {ns: [storage.uri(rel) for rel in rels] for ns, rels in groups.items()}


def verify_output(repository: Repository, prefix: str, files: Sequence[dict[str, Any]]) -> None:
    """Check that every file a job reported exists under ``prefix`` with its size (D5.3).

    Raises:
        JobError: a file is missing or has another size; names the file.
    """
    for f in files:
        key = f"{prefix}/{f['path']}"
        if not repository.data.exists(key):
            raise JobError(f"the job reported {key} but it is not in storage")
        size = repository.data.size(key)
        if size != f["size"]:
            raise JobError(f"{key} is {size} bytes in storage but the job wrote {f['size']}")


def ingest(repository: Repository, inputs: Sequence[str], runner: Runner,
           timezone: str | None = None) -> IngestResult:
    """Ingest text facts into a new factset and publish it (§5).

    Args:
        repository: the open repository.
        inputs: ``-i`` arguments, e.g. ``"sparse:delimited:psv|halibut=/data/halibut"`` or
            ``"sparse:thrift|halibut=/data/seq"`` (SequenceFiles of Thrift facts, §5.5).
        runner: runs the job plan (local Spark or a job flow).
        timezone: the ingestion time zone (default: the repository's, §5.3).

    Raises:
        UsageError: a malformed input argument.
        IngestError: unknown namespaces (after allocating the factset id, as upstream did),
            missing input directories.
        JobError: the job failed or its output did not verify; nothing was committed.
    """
    specs = [_parse_input(text) for text in inputs]
    thrift_paths = {spec.path for spec, text in zip(specs, inputs, strict=True)
                    if _is_thrift(text)}
    state = repository.state()
    config = repository.config(state)
    dictionary = repository.dictionary(state)
    ingest_zone = timezone or config.timezone
    check_timezone(ingest_zone)
    listed = [(spec, list_input(spec)) for spec in specs]
    factset_id = repository.allocate("factsets")
    plan = build_ingest_plan(
        factset_id=factset_id,
        inputs=listed,
        dictionary=dictionary,
        repository_timezone=config.timezone,
        ingest_timezone=ingest_zone,
        factset_uri=repository.data.uri(f"factsets/{factset_id}"),
        errors_uri=repository.data.uri(f"errors/{factset_id}"),
    )
    if thrift_paths:
        thrift_files = {uri for spec, groups in listed if spec.path in thrift_paths
                        for uris in groups.values() for uri in uris}
        for source in plan["inputs"]:  # type: ignore[union-attr]
            if set(source["files"]) <= thrift_files:
                source["format"] = {"thrift": True}
    result = runner.run(plan)
    verify_output(repository, f"factsets/{factset_id}", result["files"])
    files = tuple(ManifestFile(f["path"], f["size"], f["md5"]) for f in result["files"])
    partitions = len({f.path.rsplit("/", 1)[0] for f in files})
    if result["facts"] == 0:
        return IngestResult(factset_id, 0, result["errors"], False)
    manifest = Manifest("factset", factset_id, files, result["facts"])
    write_factset_view(repository.data, manifest)  # upstream .manifest.json (§2.5)
    repository.write_manifest(manifest)

    def prepend(current: Any) -> dict[str, bytes]:
        store = parse_store(current.read(STORE_KEY) or b"")
        if factset_id in store:
            raise IngestError(f"factset {factset_id} is already in the store")
        return {STORE_KEY: render_store([factset_id, *store])}

    repository.commit(prepend)
    return IngestResult(factset_id, result["facts"], result["errors"], True, partitions, files)
