"""S3Storage against a local S3 server (moto, on 127.0.0.1): the storage and metadata contracts
(D1.1, D1.2, D2) plus S3 specifics: conditional-put races, pagination, server-side encryption,
retries, credentials kept out of messages, and the request counts of the metadata store (D2.4).
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

if str(Path(__file__).resolve().parents[2]) not in sys.path:  # make `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ivory.errors import KeyExistsError, KeyNotFoundError, StorageError, UsageError
from ivory.metadata import MetadataStore
from ivory.storage import S3Storage, open_storage
from ivory.storage.base import ListEntry
from tests import s3server
from tests.contracts import MetadataStoreContract, StorageContract, keys
from tests.s3server import (
    ACCESS_KEY_ID,
    REGION,
    SECRET_ACCESS_KEY,
    RequestCounter,
    S3Server,
    build_history,
    measure_metadata_requests,
)

# The local server's fixtures (see tests/s3server.py).
s3_server, s3_env, s3_bucket = s3server.s3_server, s3server.s3_env, s3server.s3_bucket

# -- the contracts -----------------------------------------------------------------------------


class TestS3Storage(StorageContract):
    @pytest.fixture
    def storage(self, s3_bucket: str) -> S3Storage:
        return S3Storage(s3_bucket)


class TestPrefixedS3Storage(StorageContract):
    @pytest.fixture
    def storage(self, s3_bucket: str) -> S3Storage:
        bucket = S3Storage(s3_bucket)
        bucket.write("outside", b"not visible")
        bucket.write("some/prefiy", b"not visible either")
        view = S3Storage(s3_bucket, "some/prefix")
        assert bucket.child("some/prefix").describe() == view.describe()
        return view


class TestS3MetadataStore(MetadataStoreContract):
    @pytest.fixture
    def metadata_store(self, s3_bucket: str) -> MetadataStore:
        return MetadataStore(S3Storage(s3_bucket, "repo"))


# -- helpers -----------------------------------------------------------------------------------


class _Raw:
    """A raw body for a fabricated botocore response."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def fail_first(client: Any, operation: str, failures: list[tuple[int, str]]) -> list[int]:
    """Answer the first attempts of ``operation`` with the given ``(status, error code)``s
    without sending them (a ``before-send`` hook); returns the list of statuses answered."""
    from botocore.awsrequest import AWSResponse

    answered: list[int] = []
    pending = list(failures)

    def hook(request: Any, **_: Any) -> Any:
        if not pending:
            return None
        status, code = pending.pop(0)
        answered.append(status)
        body = (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
                f"<Message>injected {code}</Message><RequestId>t</RequestId></Error>").encode()
        return AWSResponse(request.url, status, {"Content-Type": "application/xml"}, _Raw(body))

    client.meta.events.register(f"before-send.s3.{operation}", hook)
    return answered


# -- conditional puts --------------------------------------------------------------------------


def test_moto_honours_if_none_match(s3_server: S3Server, s3_bucket: str) -> None:
    from botocore.exceptions import ClientError

    client = s3_server.client()
    client.put_object(Bucket=s3_bucket, Key="k", Body=b"1", IfNoneMatch="*")
    with pytest.raises(ClientError) as raised:
        client.put_object(Bucket=s3_bucket, Key="k", Body=b"2", IfNoneMatch="*")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert raised.value.response["Error"]["Code"] == "PreconditionFailed"
    assert client.get_object(Bucket=s3_bucket, Key="k")["Body"].read() == b"1"


def test_create_if_absent_races_have_exactly_one_winner(s3_bucket: str) -> None:
    storage = S3Storage(s3_bucket)
    for round_ in range(10):
        barrier = threading.Barrier(12)
        outcomes: list[str] = []

        def attempt(n: int, round_: int = round_, barrier: threading.Barrier = barrier,
                    outcomes: list[str] = outcomes) -> None:
            barrier.wait()
            try:
                storage.create_if_absent(f"race/{round_}", f"writer {n}".encode())
                outcomes.append(f"won {n}")
            except KeyExistsError:
                outcomes.append("lost")

        threads = [threading.Thread(target=attempt, args=(n,)) for n in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winners = [o for o in outcomes if o.startswith("won")]
        assert len(winners) == 1 and len(outcomes) == 12, outcomes
        assert storage.read(f"race/{round_}") == f"writer {winners[0][4:]}".encode()


@pytest.mark.parametrize(("status", "code"), [(412, "PreconditionFailed"),
                                              (409, "ConditionalRequestConflict")])
def test_lost_race_answers_are_key_exists(s3_bucket: str, status: int, code: str) -> None:
    storage = S3Storage(s3_bucket)
    fail_first(storage.client, "PutObject", [(status, code)])
    with pytest.raises(KeyExistsError) as raised:
        storage.create_if_absent("k", b"x")
    assert raised.value.key == "k"
    assert not storage.exists("k")


def test_a_retried_conditional_put_that_had_succeeded_is_not_a_loss(s3_bucket: str) -> None:
    storage = S3Storage(s3_bucket)
    forced: list[int] = []

    def retry_once(response: Any, attempts: int, **_: Any) -> float | None:
        # The first attempt succeeded, but the client acts as if its response was lost.
        if not forced and response is not None and response[0].status_code == 200:
            forced.append(attempts)
            return 0.0
        return None

    storage.client.meta.events.register("needs-retry.s3.PutObject", retry_once)
    storage.create_if_absent("mine", b"v")  # the retry gets 412, the token says it is ours
    assert forced == [1]
    assert storage.read("mine") == b"v"

    # The same retried 412 on a key another writer created is a loss.
    S3Storage(s3_bucket).create_if_absent("theirs", b"theirs")
    fail_first(storage.client, "PutObject", [(500, "InternalError")])
    with pytest.raises(KeyExistsError):
        storage.create_if_absent("theirs", b"mine")
    assert storage.read("theirs") == b"theirs"


# -- listing -----------------------------------------------------------------------------------


def test_pagination_with_page_size_2(s3_bucket: str) -> None:
    storage = S3Storage(s3_bucket)
    names = [f"p/k{n:03d}" for n in range(41)] + [f"p/d{n}/x" for n in range(6)]
    for name in names:
        storage.write(name, b"x")
    requests = RequestCounter(storage.client)

    listing = storage.list("p/", page_size=2)
    assert requests.total == 0, "nothing is fetched before the first entry is asked for"
    assert next(listing) == ListEntry("p/d0/", None, True)
    assert requests.calls["ListObjectsV2"] == 1
    rest = list(listing)
    expected = [f"p/d{n}/" for n in range(6)] + [f"p/k{n:03d}" for n in range(41)]
    assert keys(iter(rest)) == expected[1:]
    assert requests.calls["ListObjectsV2"] == 24  # ceil(47 / 2)
    assert all(p["MaxKeys"] == 2 and p["Delimiter"] == "/" for _, p in requests.params)

    requests.clear()
    assert keys(storage.list("p/", None, page_size=2)) == sorted(names)
    assert requests.calls["ListObjectsV2"] == 24
    requests.clear()
    assert keys(storage.list("p/", None, start_after="p/k037", page_size=2)) == [
        "p/k038", "p/k039", "p/k040"]
    assert requests.params[0][1]["StartAfter"] == "p/k037"
    assert keys(storage.list("p/", page_size=1000)) == expected
    assert sum(1 for _ in storage.list("p/", None)) == len(names)


def test_directory_markers_are_not_objects(s3_server: S3Server, s3_bucket: str) -> None:
    client = s3_server.client()
    for key in ["d/", "d/x", "e/"]:
        client.put_object(Bucket=s3_bucket, Key=key, Body=b"")
    storage = S3Storage(s3_bucket)
    assert keys(storage.list("", None)) == ["d/x"]
    assert keys(storage.list("")) == ["d/", "e/"]
    assert keys(storage.list("d/")) == ["d/x"]
    assert storage.delete_prefix("d/") == 1


def test_delete_prefix_batches(s3_bucket: str) -> None:
    storage = S3Storage(s3_bucket)
    for n in range(30):
        storage.write(f"x/{n:02d}", b"x")
    storage.write("y", b"y")
    requests = RequestCounter(storage.client)
    assert storage.delete_prefix("x/") == 30
    assert requests.calls["DeleteObjects"] == 1
    assert keys(storage.list("", None)) == ["y"]


# -- encryption, retries, configuration ---------------------------------------------------------


def test_server_side_encryption_on_every_write(s3_server: S3Server, s3_bucket: str) -> None:
    storage = S3Storage(s3_bucket, "enc", sse="AES256")
    requests = RequestCounter(storage.client)
    storage.write("a", b"1")
    storage.create_if_absent("b", b"2")
    with storage.open_write("c") as f:
        f.write(b"3")
    storage.copy("a", "d")
    storage.child("sub").write("e", b"5")
    writes = [(op, p) for op, p in requests.params
              if op in ("PutObject", "CopyObject", "CreateMultipartUpload")]
    assert [op for op, _ in writes] == ["PutObject"] * 3 + ["CopyObject", "PutObject"]
    assert all(p.get("ServerSideEncryption") == "AES256" for _, p in writes)
    sent = [h for op, h in requests.headers if op in ("PutObject", "CopyObject")]
    assert len(sent) == 5 and all(h["x-amz-server-side-encryption"] == "AES256" for h in sent)
    head = s3_server.client().head_object(Bucket=s3_bucket, Key="enc/b")
    assert head["ServerSideEncryption"] == "AES256"

    plain = S3Storage(s3_bucket)
    requests = RequestCounter(plain.client)
    plain.write("p", b"x")
    assert "ServerSideEncryption" not in requests.params[0][1]
    assert "x-amz-server-side-encryption" not in requests.headers[0][1]
    with pytest.raises(UsageError, match="server-side encryption 'DES'"):
        S3Storage(s3_bucket, sse="DES")


def test_open_storage_takes_sse_from_the_environment(s3_bucket: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVORY_S3_SSE", "aws:kms")
    storage = open_storage(f"s3://{s3_bucket}/repo")
    assert isinstance(storage, S3Storage) and storage.sse == "aws:kms"
    monkeypatch.setenv("IVORY_S3_SSE", "")
    assert open_storage(f"s3://{s3_bucket}").sse is None  # type: ignore[attr-defined]
    monkeypatch.setenv("IVORY_S3_SSE", "rot13")
    with pytest.raises(UsageError, match="IVORY_S3_SSE 'rot13'"):
        open_storage(f"s3://{s3_bucket}")


def test_retries_throttling_and_5xx(s3_bucket: str) -> None:
    storage = S3Storage(s3_bucket)
    storage.write("k", b"v")
    answered = fail_first(storage.client, "GetObject",
                          [(503, "SlowDown"), (500, "InternalError"), (503, "ServiceUnavailable")])
    requests = RequestCounter(storage.client)
    assert storage.read("k") == b"v"
    assert answered == [503, 500, 503]
    assert requests.calls["GetObject"] == 1 and requests.sends["GetObject"] == 4

    answered = fail_first(storage.client, "PutObject", [(500, "InternalError")] * 2)
    storage.create_if_absent("c", b"v")  # retried conditional put still creates once
    assert answered == [500, 500] and storage.read("c") == b"v"


def test_retries_give_up_with_a_clear_error(s3_bucket: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    storage = S3Storage(s3_bucket)
    answered = fail_first(storage.client, "HeadObject", [(500, "InternalError")] * 5)
    with pytest.raises(StorageError,
                       match=r"cannot check 'k' in s3://.*: (InternalError|500)") as raised:
        storage.exists("k")
    assert answered == [500, 500]
    assert not isinstance(raised.value, KeyNotFoundError)


def test_client_configuration(s3_server: S3Server, s3_bucket: str,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-1")  # AWS_REGION wins
    storage = S3Storage(s3_bucket)
    assert storage._clients._client is None, "no client before the first request"
    client = storage.client
    assert client.meta.endpoint_url == s3_server.endpoint  # AWS_ENDPOINT_URL, read by boto3
    assert client.meta.region_name == REGION
    assert client.meta.config.s3 == {"addressing_style": "path"}
    assert client.meta.config.retries["mode"] == "standard"
    assert client.meta.config.retries["total_max_attempts"] == 10
    assert client.meta.config.connect_timeout == 10 and client.meta.config.read_timeout == 60
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "4")
    other = S3Storage(s3_bucket).client
    assert other.meta.config.retries["mode"] == "adaptive"
    assert other.meta.config.retries["total_max_attempts"] == 4
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "many")
    with pytest.raises(UsageError, match="AWS_MAX_ATTEMPTS"):
        _ = S3Storage(s3_bucket).client
    assert storage.child("x").client is client, "children share the client"


def test_no_boto3_at_import() -> None:
    code = ("import sys, ivory.storage; from ivory.storage import open_storage; "
            "s = open_storage('s3://bucket/p'); "
            "print(sorted(m for m in ('boto3', 'botocore') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "[]"


def test_locations() -> None:
    storage = S3Storage("bkt", "repos/main/")
    assert storage.uri("metadata/x") == "s3a://bkt/repos/main/metadata/x"
    assert storage.uri("factsets/") == "s3a://bkt/repos/main/factsets/"
    assert storage.uri() == "s3a://bkt/repos/main"
    assert storage.describe() == "s3://bkt/repos/main"
    assert repr(storage) == "<S3Storage s3://bkt/repos/main>"
    assert S3Storage("bkt").uri("k") == "s3a://bkt/k" and S3Storage("bkt").uri() == "s3a://bkt"
    assert S3Storage("bkt").describe() == "s3://bkt"
    child = storage.child("metadata")
    assert isinstance(child, S3Storage) and child.prefix == "repos/main/metadata/"
    for location in ["s3://bkt/repos/main", "S3://bkt/repos/main/", "s3a://bkt/repos/main"]:
        opened = open_storage(location)
        assert isinstance(opened, S3Storage)
        assert (opened.bucket, opened.prefix) == ("bkt", "repos/main/")
    assert open_storage("s3://bkt").prefix == ""  # type: ignore[attr-defined]
    for bad in ["s3://", "s3:///x", "s3://bkt/a//b", "s3://bkt/../x"]:
        with pytest.raises(StorageError):
            open_storage(bad)
    copy = pickle.loads(pickle.dumps(storage))
    assert copy.describe() == storage.describe() and copy._clients._client is None


# -- credentials -------------------------------------------------------------------------------


def test_credentials_never_appear(s3_server: S3Server, s3_bucket: str,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    secrets_ = [SECRET_ACCESS_KEY, ACCESS_KEY_ID]
    storage = S3Storage(s3_bucket, "repo")
    storage.write("k", b"v")
    texts = [repr(storage), storage.describe(), storage.uri("k"), repr(storage.child("x"))]
    failures: list[Callable[[], object]] = [
        lambda: S3Storage("no-such-bucket-ivory").read("k"),
        lambda: S3Storage("no-such-bucket-ivory").write("k", b"v"),
        lambda: S3Storage("no-such-bucket-ivory").create_if_absent("k", b"v"),
        lambda: list(S3Storage("no-such-bucket-ivory").list("")),
        lambda: storage.read("missing"),
        lambda: storage.copy("missing", "x"),
    ]
    for failure in failures:
        with pytest.raises(StorageError) as raised:
            failure()
        texts.append(str(raised.value))
        texts.append(repr(raised.value))
    assert "NoSuchBucket" in texts[4]
    # A server that is not there: connection errors name the endpoint, not the credentials.
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(StorageError, match="cannot read 'k' in s3://") as raised:
        S3Storage(s3_bucket).read("k")
    texts.append(str(raised.value))
    for text in texts:
        for secret in secrets_:
            assert secret not in text, text


def _closed_port() -> int:
    from tests.s3server import free_port

    return free_port()


# -- request counts (D2.4; docs/request-counts.md) ---------------------------------------------


def test_metadata_request_counts_are_constant(s3_bucket: str) -> None:
    storage = S3Storage(s3_bucket, "repo")
    build_history(storage, 300)
    requests = RequestCounter(storage.client)
    fresh, stale, none = (
        {op: counts["total"] for op, counts in
         measure_metadata_requests(storage, requests, hint).items()}
        for hint in ("fresh", "stale", "none"))
    # The numbers of docs/request-counts.md (10,000 versions there; 300 here): a listing page
    # holds 1,000 keys, so only the no-hint case depends on the length of the history.
    assert fresh == {"open": 4, "dictionary": 1, "commit": 12}, requests.calls
    assert stale == {"open": 14, "dictionary": 1, "commit": 22}
    assert none == {"open": 3, "dictionary": 1, "commit": 11}
