"""S3 integrity and server-side faults (D5.3, D5.6) on the local S3 server (moto, 127.0.0.1).

* Write-time MD5 (D5.3): every ``PutObject`` carries ``Content-MD5``. moto stores whatever it
  receives, so :func:`verifying_server` makes its ``PutObject`` check ``Content-MD5`` as S3
  does (``400 BadDigest``); a ``before-send`` hook then corrupts bodies on the way.
* Server faults through botocore ``before-send`` hooks that answer instead of the server: 5xx,
  ``503 SlowDown`` throttling and read timeouts (a slow server). The client retries and
  succeeds, or fails with a clear error and the repository is unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterator
from typing import Any

import pytest

from ivory.dictionaries import import_dictionary
from ivory.errors import StorageError
from ivory.metadata import REPOSITORY
from ivory.repository import Repository
from ivory.storage import S3Storage
from ivory.verify import verify_repository

DICTIONARY = "fish:weight|encoding=double\n"
DICTIONARY_2 = DICTIONARY + "fish:name|encoding=string\n"


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


@pytest.fixture
def verifying_server(s3_server: Any) -> Iterator[Any]:
    """moto's ``PutObject`` answers ``400 BadDigest`` when the body's MD5 differs from the
    ``Content-MD5`` header, as S3 does (requests without the header are stored as before)."""
    from moto.s3.responses import S3Response

    original = S3Response.put_object

    def put_object(self: Any, *args: Any, **kwargs: Any) -> Any:
        header = self.headers.get("Content-MD5")
        body = self.body if isinstance(self.body, bytes) else bytes(self.body or b"")
        if header and "uploadId" not in self.querystring and header != base64.b64encode(
                hashlib.md5(body).digest()).decode():
            return 400, {}, (b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>BadDigest"
                             b"</Code><Message>The Content-MD5 you specified did not match what"
                             b" we received.</Message></Error>")
        return original(self, *args, **kwargs)

    S3Response.put_object = put_object  # type: ignore[method-assign]
    try:
        yield s3_server
    finally:
        S3Response.put_object = original  # type: ignore[method-assign]


def corrupt_puts(client: Any) -> list[str]:
    """Flip one byte of every ``PutObject`` body after it was signed and its MD5 computed;
    returns the keys corrupted."""
    corrupted: list[str] = []

    def hook(request: Any, **_: Any) -> None:
        body = request.body
        data = body.getvalue() if isinstance(body, io.BytesIO) else bytes(body or b"")
        if data:
            request.body = io.BytesIO(bytes([data[0] ^ 0xFF]) + data[1:])
            corrupted.append(request.url)

    client.meta.events.register("before-send.s3.PutObject", hook)
    return corrupted


def answer_instead(client: Any, operation: str, failures: list[tuple[int, str] | str]
                   ) -> list[str]:
    """Answer the first attempts of ``operation`` without sending them: ``(status, code)``
    gives that error response, ``"timeout"`` raises a read timeout. Returns what was done."""
    from botocore.awsrequest import AWSResponse
    from botocore.exceptions import ReadTimeoutError

    pending = list(failures)
    done: list[str] = []

    def hook(request: Any, **_: Any) -> Any:
        if not pending:
            return None
        failure = pending.pop(0)
        if failure == "timeout":
            done.append("timeout")
            raise ReadTimeoutError(endpoint_url=request.url)
        status, code = failure
        done.append(f"{status} {code}")
        body = (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
                f"<Message>injected {code}</Message><RequestId>t</RequestId></Error>").encode()
        return AWSResponse(request.url, status, {"Content-Type": "application/xml"}, _Raw(body))

    client.meta.events.register(f"before-send.s3.{operation}", hook)
    return done


def committed(repository: Repository) -> dict[str, bytes]:
    state = repository.state()
    out = {REPOSITORY: str(state.version).encode()}
    out.update({key: repository.metadata.read(key, v) for key, v in state.pins.items()})
    return out


# -- write-time MD5 ----------------------------------------------------------------------------


def test_puts_carry_content_md5_and_pass_a_verifying_server_d5_3(verifying_server: Any,
                                                                  s3_bucket: str) -> None:
    storage = S3Storage(s3_bucket, "p")
    sent: list[dict[str, Any]] = []
    storage.client.meta.events.register(
        "before-send.s3.PutObject", lambda request, **_: sent.append(dict(request.headers)))
    storage.write("a", b"alpha")
    storage.create_if_absent("b", b"beta")
    with storage.open_write("c") as handle:
        handle.write(b"gamma")
    assert [storage.read(k) for k in "abc"] == [b"alpha", b"beta", b"gamma"]
    expected = [base64.b64encode(hashlib.md5(v).digest()) for v in (b"alpha", b"beta", b"gamma")]
    assert [h["Content-MD5"] for h in sent] == expected


@pytest.mark.parametrize("method", ["write", "create_if_absent", "open_write"])
def test_a_corrupted_body_is_rejected_d5_3(verifying_server: Any, s3_bucket: str,
                                           method: str) -> None:
    storage = S3Storage(s3_bucket)
    corrupted = corrupt_puts(storage.client)
    with pytest.raises(StorageError, match="BadDigest") as raised:
        if method == "open_write":
            with storage.open_write("k") as handle:
                handle.write(b"payload")
        else:
            getattr(storage, method)("k", b"payload")
    assert corrupted, "the hook corrupted nothing"
    assert "'k'" in str(raised.value)
    assert not storage.exists("k"), "a corrupted body was stored"


def test_a_commit_whose_upload_is_corrupted_commits_nothing_d5_3(verifying_server: Any,
                                                                 s3_bucket: str) -> None:
    location = f"s3://{s3_bucket}/repo"
    repository, _ = Repository.create(location, "UTC")
    import_dictionary(repository, [("d.psv", DICTIONARY)])
    before = committed(Repository.open(location))
    broken = Repository.open(location)
    corrupt_puts(broken.metadata_storage.client)  # type: ignore[attr-defined]
    with pytest.raises(StorageError, match="BadDigest"):
        import_dictionary(broken, [("d.psv", DICTIONARY_2)])
    assert committed(Repository.open(location)) == before
    assert verify_repository(Repository.open(location)).ok


# -- server-side faults ------------------------------------------------------------------------


@pytest.mark.parametrize("failures", [
    [(503, "SlowDown"), (503, "SlowDown")],
    [(500, "InternalError")],
    ["timeout", (502, "BadGateway")],
], ids=["throttled", "5xx", "slow-then-5xx"])
def test_retried_faults_still_commit_d5_6(s3_bucket: str, failures: list[Any],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "5")
    location = f"s3://{s3_bucket}/repo"
    Repository.create(location, "UTC")
    repository = Repository.open(location)
    client = repository.metadata_storage.client  # type: ignore[attr-defined]
    puts = answer_instead(client, "PutObject", failures)
    gets = answer_instead(client, "GetObject", list(failures))
    import_dictionary(repository, [("d.psv", DICTIONARY)])
    assert len(puts) == len(gets) == len(failures), "every injected fault was met and retried"
    reopened = Repository.open(location)
    assert [str(d.feature) for d in reopened.dictionary().definitions] == ["fish:weight"]
    assert verify_repository(reopened).ok


@pytest.mark.parametrize("operation", ["PutObject", "GetObject", "HeadObject"])
def test_persistent_faults_fail_clearly_and_change_nothing_d5_6(
        s3_bucket: str, operation: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    location = f"s3://{s3_bucket}/repo"
    Repository.create(location, "UTC")
    before = committed(Repository.open(location))
    repository = Repository.open(location)
    client = repository.metadata_storage.client  # type: ignore[attr-defined]
    answer_instead(client, operation, [(503, "SlowDown")] * 100)
    with pytest.raises(StorageError) as raised:
        import_dictionary(repository, [("d.psv", DICTIONARY)])
    message = str(raised.value)
    assert "SlowDown" in message or "503" in message, message
    assert s3_bucket in message, "the error names the location"
    assert "ivory-test-secret" not in message
    assert committed(Repository.open(location)) == before
    assert verify_repository(Repository.open(location)).ok
