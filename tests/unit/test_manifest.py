"""Manifests of factsets and snapshots (D2.2, D5.3; partitions of §2)."""

from __future__ import annotations

import datetime as dt

import pytest

from ivory.errors import MetadataError
from ivory.manifest import Manifest, ManifestFile, manifest_from_bytes, manifest_to_bytes

MD5 = "0123456789abcdef0123456789abcdef"


def _factset() -> Manifest:
    return Manifest(
        kind="factset",
        object_id="0000000a",
        files=(
            ManifestFile("HALIBUT/2014/06/02/part-0.parquet", 10, MD5),
            ManifestFile("HALIBUT/2014/06/02/part-1.parquet", 20, MD5),
            ManifestFile("halibut/2014/06/03/part-0.parquet", 2**40, "f" * 32),
            ManifestFile("sauerkraut/1600/03/01/ünïcode name.parquet", 0, MD5),
        ),
        fact_count=12345678901,
    )


def _snapshot() -> Manifest:
    return Manifest(
        kind="snapshot",
        object_id="00000003",
        files=(ManifestFile("halibut/part-r-00000.parquet", 7, MD5),),
        fact_count=238,
        date=dt.date(2014, 7, 1),
        store_version="00000002",
        dictionary_version="00000001",
        repository_version="00000005",
    )


@pytest.mark.parametrize("manifest", [_factset(), _snapshot()], ids=["factset", "snapshot"])
def test_thrift_round_trip_d2_2(manifest: Manifest) -> None:
    data = manifest_to_bytes(manifest)
    assert isinstance(data, bytes) and data
    assert manifest_from_bytes(data) == manifest


def test_round_trip_of_an_empty_manifest_keeps_none_fields_d2_2() -> None:
    manifest = Manifest("factset", "00000000", (), 0)
    back = manifest_from_bytes(manifest_to_bytes(manifest))
    assert back == manifest
    assert back.date is None and back.store_version is None and back.files == ()
    assert back.total_size == 0


def test_total_size_d5_3() -> None:
    assert _factset().total_size == 10 + 20 + 2**40 + 0


def test_partitions_groups_files_by_namespace_and_date_s2() -> None:
    parts = _factset().partitions()
    assert set(parts) == {
        ("HALIBUT", dt.date(2014, 6, 2)),
        ("halibut", dt.date(2014, 6, 3)),  # namespaces are case sensitive (§1.2)
        ("sauerkraut", dt.date(1600, 3, 1)),
    }
    assert [f.path for f in parts[("HALIBUT", dt.date(2014, 6, 2))]] == [
        "HALIBUT/2014/06/02/part-0.parquet", "HALIBUT/2014/06/02/part-1.parquet",
    ]
    assert [f.size for f in parts[("halibut", dt.date(2014, 6, 3))]] == [2**40]


def test_partitions_of_nested_file_names_s2() -> None:
    """Everything after ``<ns>/<yyyy>/<mm>/<dd>/`` is the file name, even with more ``/``."""
    m = Manifest("factset", "00000000", (ManifestFile("ns/2014/01/31/a/b.parquet", 1, MD5),), 1)
    assert list(m.partitions()) == [("ns", dt.date(2014, 1, 31))]


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00", b"garbage", b"\xff" * 20, manifest_to_bytes(_snapshot())[:-5]],
    ids=["empty", "stop-only", "text", "ff", "truncated"],
)
def test_malformed_bytes_raise_metadata_error_d2_2(data: bytes) -> None:
    with pytest.raises(MetadataError, match="malformed manifest"):
        manifest_from_bytes(data)
