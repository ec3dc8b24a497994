"""Fault-injection sweeps (D5.6): every storage request of ingest, snapshot, import-dictionary
and gc fails ("fail": a StorageError) or kills the process ("kill": a BaseException nothing
catches), one at a time. After each, the repository holds the old or the new committed state,
``verify`` passes, and ``gc`` removes every leftover.

Spark jobs write their output through Spark, not through ivory's storage: the sweeps cover the
driver's requests (metadata, manifests, listings, output verification). Each sweep first counts
the requests of a clean run, then runs N = 1..count in both modes on a fresh copy of the
repository. ``-s`` prints a summary line per command (used for the issue report).

To keep the Spark sweeps fast, the job runs once on the shared local session (the clean run)
and :class:`ReplayRunner` then writes the same output files, byte for byte, where the plan of
each faulty run asks for them (the same factset or snapshot id: every run starts from a fresh
copy of the same repository). The job's own writes are never ivory storage requests, so the
swept requests are exactly those of a run with Spark.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ivory.dictionaries import import_dictionary
from ivory.errors import IvoryError
from ivory.gc import collect_garbage, plan_gc, plan_metadata_gc
from ivory.ingest import ingest
from ivory.metadata import REPOSITORY
from ivory.repository import Repository
from ivory.snapshot import snapshot
from ivory.storage import PosixStorage
from ivory.storage.faults import FaultCounter, FaultPlan, FaultyStorage, SimulatedCrash
from ivory.verify import verify_repository

DICTIONARY = "fish:weight|encoding=double|tombstone=NA\nfish:name|encoding=string\n"
DICTIONARY_2 = DICTIONARY + "fish:caught|encoding=date\n"
FACTS = ("E1|weight|1.5|2014-01-01\nE1|weight|2|2014-02-01\nE1|name|Wanda|2014-01-01\n"
         "E2|weight|NA|2014-02-01\nE3|weight|heavy|2014-01-01\n")
FAR_FUTURE = 10.0  # seconds added to "now" so that gc --grace 0 sees everything as old

Operation = Callable[[Repository], object]


def faulty(location: str, plan: FaultPlan) -> tuple[Repository, FaultCounter]:
    """The repository at ``location`` with every storage request going through one counter."""
    counter = FaultCounter(plan)
    storage = FaultyStorage(PosixStorage(location), counter)
    return Repository(storage, storage, location), counter


def committed(location: str) -> dict[str, bytes]:
    """The committed state: the head ``repository`` version and every pinned value."""
    repository = Repository.open(location)
    state = repository.state()
    out = {REPOSITORY: str(state.version).encode()}
    out.update({key: repository.metadata.read(key, v) for key, v in state.pins.items()})
    return out


def leftovers(location: str) -> list[str]:
    """What gc should have removed: files of unpublished or expired directories (beyond the
    ``.allocated``/``.deleted`` markers), unpinned metadata values, orphan manifests."""
    repository = Repository.open(location)
    candidates, _, _ = plan_gc(repository, 0.0, 0.0, now=time.time() + FAR_FUTURE)
    values, _ = plan_metadata_gc(repository, 0.0, now=time.time() + FAR_FUTURE)
    found = [c.directory for c in candidates] + [v.key for v in values]
    state = repository.state()
    published = {f"factset-{i}" for i in repository.store(state)}
    published |= {f"snapshot-{r.snapshot_id}" for r in repository.snapshots(state)}
    for entry in repository.metadata_storage.list("metadata/", "/"):
        name = entry.key.split("/")[1]
        if name.startswith("manifest-") and name.removeprefix("manifest-") not in published:
            found.append(entry.key)
    return found


def sweep(base: Path, work: Path, operation: Operation, expected_new: dict[str, bytes] | None
          ) -> tuple[int, dict[str, int]]:
    """Count the requests of a clean run of ``operation`` on a copy of ``base``, then run it
    with a fault at every request, in both modes, each on a fresh copy; check each outcome.

    Returns:
        ``(requests of the clean run, {outcome: count})`` with outcomes such as ``fail/old``.
    """
    old = committed(str(base))
    clean = work / "clean"
    shutil.copytree(base, clean)
    repository, counter = faulty(str(clean), FaultPlan())
    operation(repository)
    total = counter.total
    new = committed(str(clean)) if expected_new is None else expected_new
    assert verify_repository(Repository.open(str(clean))).ok
    outcomes: dict[str, int] = {}
    for mode in ("fail", "kill"):
        for n in range(1, total + 1):
            target = work / f"{mode}-{n}"
            shutil.copytree(base, target)
            repository, counter = faulty(str(target), FaultPlan(n, mode))
            try:
                operation(repository)
                raised = "none"
            except SimulatedCrash:
                raised = "crash"
            except IvoryError:
                raised = "error"
            where = f"{mode} at request {n} ({counter.fired})"
            assert counter.fired is not None, where
            after = committed(str(target))
            assert after in (old, new), f"{where}: neither the old nor the new state"
            state = "same" if old == new else "new" if after == new else "old"
            if mode == "kill":
                assert raised == "crash", where
            if raised == "none":
                assert state != "old", f"{where}: no error was raised but nothing committed"
            report = verify_repository(Repository.open(str(target)))
            assert report.ok, f"{where}: {[p.render() for p in report.problems]}"
            collect_garbage(Repository.open(str(target)), 0.0, 0.0,
                            now=time.time() + FAR_FUTURE, echo=lambda _: None)
            assert leftovers(str(target)) == [], f"{where}: gc left garbage"
            assert committed(str(target)) == after, f"{where}: gc changed the committed state"
            assert verify_repository(Repository.open(str(target))).ok, where
            outcome = f"{mode}/{state}" + ("/no-error" if raised == "none" else "")
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            shutil.rmtree(target)
    return total, outcomes


class ReplayRunner:
    """Runs the first plan on ``runner`` and records its output directories; later plans get
    the same files written at their output locations and the same result (see the module
    docstring)."""

    def __init__(self, runner: object) -> None:
        self.runner = runner
        self.result: dict[str, object] | None = None
        self.files: dict[str, dict[str, bytes]] = {}

    @staticmethod
    def outputs(plan: dict[str, object]) -> dict[str, str]:
        output = plan["output"]
        uris = output if isinstance(output, dict) else {"output": output}
        return {name: str(uri).removeprefix("file://") for name, uri in uris.items()}

    def run(self, plan: dict[str, object]) -> dict[str, object]:
        if self.result is None:
            self.result = self.runner.run(plan)  # type: ignore[attr-defined]
            for name, path in self.outputs(plan).items():
                self.files[name] = {str(p.relative_to(path)): p.read_bytes()
                                    for p in Path(path).rglob("*") if p.is_file()}
            return self.result
        for name, path in self.outputs(plan).items():
            for relative, data in self.files[name].items():
                (Path(path) / relative).parent.mkdir(parents=True, exist_ok=True)
                (Path(path) / relative).write_bytes(data)
        return self.result


def report(command: str, total: int, outcomes: dict[str, int]) -> None:
    print(f"\nfault sweep {command}: {total} requests in a clean run, {2 * total} fault points: "
          + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))


def new_repository(path: Path) -> Path:
    repository, _ = Repository.create(str(path), "UTC")
    import_dictionary(repository, [("dictionary.psv", DICTIONARY)])
    return path


def test_import_dictionary_sweep_d5_6(tmp_path: Path) -> None:
    base = new_repository(tmp_path / "base")
    total, outcomes = sweep(base, tmp_path, lambda r: import_dictionary(
        r, [("d2.psv", DICTIONARY_2)]), None)
    report("import-dictionary", total, outcomes)
    assert total >= 8
    assert outcomes.get("fail/old", 0) > 0 and outcomes.get("kill/new", 0) > 0


def test_gc_sweep_d5_6(tmp_path: Path) -> None:
    """gc under faults never changes the committed state; a clean gc afterwards finishes."""
    base = new_repository(tmp_path / "base")
    repository = Repository.open(str(base))
    factset = repository.allocate("factsets")
    repository.data.write(f"factsets/{factset}/fish/2014/01/01/part-0.parquet", b"orphan")
    repository.metadata.write_next("store", b"00000009\n")  # a lost commit's leftover
    os.makedirs(base / "metadata" / "store" / "00000007")
    (base / "metadata" / "store" / "00000007" / ".value.ivory-tmp-0a0b").write_bytes(b"torn")

    def gc(r: Repository) -> object:
        return collect_garbage(r, 0.0, 0.0, now=time.time() + FAR_FUTURE, echo=lambda _: None)

    total, outcomes = sweep(base, tmp_path, gc, None)
    report("gc", total, outcomes)
    assert total >= 6
    assert set(outcomes) <= {"fail/same", "kill/same", "fail/same/no-error"}


@pytest.fixture
def facts_dir(tmp_path: Path) -> Path:
    (tmp_path / "facts" / "fish").mkdir(parents=True)
    (tmp_path / "facts" / "fish" / "a.psv").write_text(FACTS)
    return tmp_path / "facts"


@pytest.mark.slow
def test_ingest_sweep_d5_6(tmp_path: Path, facts_dir: Path, local_runner: object) -> None:
    base = new_repository(tmp_path / "base")
    work = tmp_path / "work"
    work.mkdir()
    runner = ReplayRunner(local_runner)
    total, outcomes = sweep(base, work, lambda r: ingest(
        r, [f"sparse:delimited:psv={facts_dir}"], runner), None)
    report("ingest", total, outcomes)
    assert outcomes.get("fail/old", 0) > 0 and outcomes.get("fail/new", 0) + outcomes.get(
        "fail/new/no-error", 0) > 0


@pytest.mark.slow
def test_snapshot_sweep_d5_6(tmp_path: Path, facts_dir: Path, local_runner: object) -> None:
    base = new_repository(tmp_path / "base")
    result = ingest(Repository.open(str(base)), [f"sparse:delimited:psv={facts_dir}"],
                    local_runner)  # type: ignore[arg-type]
    assert result.committed
    work = tmp_path / "work"
    work.mkdir()
    runner = ReplayRunner(local_runner)
    total, outcomes = sweep(base, work, lambda r: snapshot(
        r, dt.date(2014, 3, 1), [], runner), None)
    report("snapshot", total, outcomes)
    assert outcomes.get("fail/old", 0) > 0 and outcomes.get("kill/new", 0) > 0


@pytest.mark.slow
def test_backup_sweep_d5_4_d5_6(tmp_path: Path) -> None:
    """An incremental backup (and its source reads) failing or killed at every request: the
    destination's head stays the previous backup or becomes the new one, never anything
    else; a restore of it verifies; running the backup again completes it."""
    import hashlib

    from ivory.backup import copy_state, plan_copy, restore
    from ivory.manifest import Manifest, ManifestFile
    from ivory.metadata import MetadataStore
    from ivory.repository import STORE_KEY, parse_store, render_store

    source = new_repository(tmp_path / "source")
    repository = Repository.open(str(source))

    def publish(payload: bytes) -> None:
        object_id = repository.allocate("factsets")
        path = "fish/2014/01/01/part-0.parquet"
        repository.data.write(f"factsets/{object_id}/{path}", payload)
        repository.write_manifest(Manifest("factset", object_id, (
            ManifestFile(path, len(payload), hashlib.md5(payload).hexdigest()),), 1))
        repository.commit(lambda s: {STORE_KEY: render_store(
            [object_id, *parse_store(s.read(STORE_KEY))])})

    def run_backup(destination: Path, plan: FaultPlan) -> FaultCounter:
        counter = FaultCounter(plan)
        src = FaultyStorage(PosixStorage(str(source)), counter)
        dst = FaultyStorage(PosixStorage(str(destination)), counter)
        metadata = MetadataStore(src, cache=None)
        state = metadata.read_repository()
        assert state is not None
        copy_state(metadata, src, plan_copy(metadata, state), dst, dst)
        return counter

    publish(b"first")
    previous = tmp_path / "previous"
    run_backup(previous, FaultPlan())
    old = committed(str(previous))
    publish(b"second")
    clean = tmp_path / "clean"
    shutil.copytree(previous, clean)
    total = run_backup(clean, FaultPlan()).total
    new = committed(str(clean))
    assert new != old
    outcomes: dict[str, int] = {}
    for mode in ("fail", "kill"):
        for n in range(1, total + 1):
            target = tmp_path / f"{mode}-{n}"
            shutil.copytree(previous, target)
            with contextlib.suppress(IvoryError, SimulatedCrash):
                run_backup(target, FaultPlan(n, mode))
            after = committed(str(target))
            assert after in (old, new), f"{mode} at {n}"
            restored = tmp_path / f"restored-{mode}-{n}"
            restore(str(target), str(restored), data=True)
            assert verify_repository(Repository.open(str(restored))).ok, f"{mode} at {n}"
            run_backup(target, FaultPlan())  # completes what was interrupted
            assert committed(str(target)) == new
            state = "new" if after == new else "old"
            outcomes[f"{mode}/{state}"] = outcomes.get(f"{mode}/{state}", 0) + 1
            shutil.rmtree(target)
            shutil.rmtree(restored)
    report("backup", total, outcomes)
    assert outcomes.get("fail/old", 0) > 0
