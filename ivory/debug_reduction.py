"""``debug-dump-reduction`` (§11.2): replay the squash of a snapshot, step by step, with the
pure-Python reference (:mod:`ivory.reductions`) on the snapshot's stored facts.

No Spark: the snapshot's Parquet files are read with pyarrow like ``debug-dump-facts``
(:mod:`ivory.debug`). The end date is the snapshot's date and the dictionary is the one the
snapshot was computed with.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ivory.debug import object_files, read_rows
from ivory.dictionary import ConcreteDefinition, FeatureId
from ivory.errors import IvoryError
from ivory.metadata import Version
from ivory.reductions import Fact, Group, build_groups, dump_steps
from ivory.repository import Repository
from ivory.schema import VALUE_COLUMNS
from ivory.values import stored_value


def _orderable(value: object) -> object:
    """A stored column value as a key ordered like Spark orders it (nulls first; arrays and
    structs element by element), so struct/list values never compare dicts."""
    if isinstance(value, dict):
        return tuple(_orderable(v) for v in value.values())
    if isinstance(value, list):
        return tuple(_orderable(v) for v in value)
    return (value is not None, value)


def _sort_key(row: dict[str, object]) -> tuple[object, ...]:
    """§7.2 order of stored facts; same-datetime set facts by value (as the Spark squash)."""
    values = tuple(_orderable(row[c]) for c in VALUE_COLUMNS.values())
    return (row["date"], row["seconds"], row["tombstone"], values)


def selected_virtuals(groups: dict[FeatureId, Group], wanted: Sequence[str]
                      ) -> list[tuple[Group, int]]:
    """The (group, virtual position) pairs to dump: every virtual feature named, every
    virtual feature of each concrete feature named, all of them when none is named.

    Raises:
        IvoryError: a name is not ``ns:name`` or not a feature of the dictionary.
    """
    out = []
    names = {FeatureId.parse(w) for w in wanted}
    for fid, group in sorted(groups.items(), key=lambda item: item[0].sort_key):
        for i, v in enumerate(group.virtuals):
            if not names or fid in names or v.feature in names:
                out.append((group, i))
    known = set(groups) | {v.feature for g in groups.values() for v in g.virtuals}
    unknown = sorted(str(n) for n in names - known)
    if unknown:
        raise IvoryError(f"not features of the snapshot's dictionary: {', '.join(unknown)}")
    return out


def dump_reduction(repository: Repository, snapshot_id: str, entities: Sequence[str],
                   features: Sequence[str]) -> Iterator[str]:
    """Lines ``entity|namespace|name|yyyy-MM-ddTHH:mm:ss|fact value|result`` (§11.2), per
    entity (in the order given), per virtual feature (feature-id order of the source, then
    §8.5 order), per fact.

    Raises:
        IvoryError: no such published snapshot, or an unknown feature.
    """
    state = repository.state()
    record = next((r for r in repository.snapshots(state) if r.snapshot_id == snapshot_id),
                  None)
    if record is None:
        raise IvoryError(f"there is no published snapshot {snapshot_id} in "
                         f"{repository.location}")
    dictionary = repository.dictionary(version=Version.parse(record.dictionary_version))
    groups = build_groups(dictionary)
    chosen = selected_virtuals(groups, features)
    sources = {g.concrete.feature for g, _ in chosen}
    wanted = set(entities)
    rows: dict[tuple[str, FeatureId], list[dict[str, object]]] = {}
    for row in read_rows(repository.data, object_files(repository, "snapshot", snapshot_id)):
        fid = FeatureId(str(row["namespace"]), str(row["name"]))
        if row["entity"] in wanted and fid in sources:
            rows.setdefault((str(row["entity"]), fid), []).append(row)
    for entity in dict.fromkeys(entities):
        for group, position in chosen:
            concrete: ConcreteDefinition = group.concrete
            stored = sorted(rows.get((entity, concrete.feature), []), key=_sort_key)
            if not stored:
                continue
            column = VALUE_COLUMNS.get(getattr(concrete.encoding, "value", ""))
            facts = [Fact(r["date"], int(r["seconds"]),  # type: ignore[arg-type]
                          stored_value(r, column))
                     for r in stored]
            virtual = group.virtuals[position]
            fid = virtual.feature
            for when, value, result in dump_steps(virtual, facts, group.is_state, record.date):
                yield f"{entity}|{fid.namespace}|{fid.name}|{when}|{value}|{result}"

