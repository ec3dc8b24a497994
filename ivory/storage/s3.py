"""Amazon S3 (and S3-compatible) storage on boto3 (D1.1, D1.2, D1.3).

Each key maps to the object ``s3://<bucket>/<prefix><key>``. The pieces of the interface map to
single S3 requests:

* :meth:`S3Storage.create_if_absent` is ``PutObject`` with ``If-None-Match: *`` (D1.2): S3
  decides atomically, with strong consistency, which of many concurrent writers creates the key.
  ``412 PreconditionFailed`` (the key exists) and ``409 ConditionalRequestConflict`` (another
  conditional write to the same key is in flight and S3 lets that one decide) are a lost race:
  :class:`~ivory.errors.KeyExistsError`. Every conditional put carries a random token in its
  user metadata (``x-amz-meta-ivory-token``) so that a put whose first attempt succeeded but
  whose response was lost, and which botocore then retried into a ``412``, is recognised as
  the winner rather than reported as a loss (one extra ``HeadObject``, only in that case).
* :meth:`S3Storage.list` is ``ListObjectsV2`` with ``Prefix``/``Delimiter``/``StartAfter`` and
  ``MaxKeys = page_size``, one page per request, fetched lazily. Directory markers (objects whose
  key ends with ``/``, which consoles and Hadoop's s3a create) are not objects and are skipped.
* Integrity at write time (D5.3): every ``PutObject`` (``write``, ``create_if_absent``, and
  ``open_write`` up to 8 MiB) carries ``Content-MD5``, the base64 MD5 of the body computed
  before sending; S3 recomputes it over what it received and answers ``400 BadDigest``
  instead of storing a body that changed on the way (a :class:`~ivory.errors.StorageError`).
  Larger ``open_write`` bodies go up as a multipart upload, whose parts botocore checksums
  (CRC32 by default, verified by S3 per part).
* ``read``/``open_read`` are ``GetObject`` (streaming), ``exists``/``size`` are ``HeadObject``,
  ``write`` is ``PutObject``, ``delete`` is ``DeleteObject``, ``delete_prefix`` lists and then
  ``DeleteObjects`` 1,000 keys a request, ``copy`` is ``CopyObject`` (a managed multipart copy
  above S3's 5 GiB limit). ``open_write`` buffers in a spooled temporary file (memory up to
  8 MiB, then disk) and uploads only when the block exits normally (``upload_fileobj``, which
  switches to a multipart upload above 8 MiB); if the block raises, nothing is sent.

Configuration comes from the standard AWS chain, never from ivory's files (credentials are never
logged or put in messages):

* credentials: boto3's default chain (``AWS_PROFILE``, ``AWS_ACCESS_KEY_ID``/
  ``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``, ``~/.aws``, SSO, instance or task role...);
* region: ``AWS_REGION`` if set (boto3 itself reads only ``AWS_DEFAULT_REGION``), else boto3's
  chain (``AWS_DEFAULT_REGION``, the profile);
* endpoint: ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` (read by boto3 itself), so any
  S3-compatible server (MinIO, Ceph, moto...) works; when either is set, requests use path-style
  addressing (``http://host/bucket/key``), which such servers expect;
* retries: botocore's retry modes, ``standard`` by default with at most 10 attempts in all
  (throttling such as ``503 SlowDown``, other 5xx and connection errors back off exponentially
  with jitter); ``AWS_RETRY_MODE`` (``standard``/``adaptive``/``legacy``) and
  ``AWS_MAX_ATTEMPTS`` (attempts in all, the first included) override;
  timeouts: 10 s to connect, 60 s to read;
* server-side encryption: the ``sse`` argument; :func:`ivory.storage.open_storage` takes it
  from ``IVORY_S3_SSE`` (``AES256``, ``aws:kms`` or ``aws:kms:dsse``; with ``aws:kms`` the
  bucket's or account's default KMS key is used).

:meth:`S3Storage.uri` returns ``s3a://bucket/prefix/key``, what Spark's s3a connector opens, so
:attr:`S3Storage.scheme` is ``"s3a"``; :meth:`S3Storage.describe` returns ``s3://bucket/prefix``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import tempfile
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO

from ivory.errors import KeyExistsError, KeyNotFoundError, StorageError, UsageError
from ivory.storage.base import ListEntry, Storage, check_key, check_prefix, dir_prefix

#: Server-side encryption values S3 accepts for ``ServerSideEncryption``.
SSE_VALUES = ("AES256", "aws:kms", "aws:kms:dsse")
#: The environment variable :func:`ivory.storage.open_storage` reads ``sse`` from.
SSE_ENV = "IVORY_S3_SSE"
#: User-metadata name of the token a conditional put carries (``x-amz-meta-ivory-token``).
TOKEN_METADATA = "ivory-token"

_DEFAULT_MAX_ATTEMPTS = 10
_CONNECT_TIMEOUT, _READ_TIMEOUT = 10, 60  # seconds
_SPOOL_BYTES = 8 * 1024 * 1024
_DELETE_BATCH = 1000
_COPY_LIMIT = 5 * 1024**3  # CopyObject's maximum source size
_NOT_FOUND_CODES = ("NoSuchKey", "NotFound", "404")
_LOST_RACE_CODES = ("PreconditionFailed", "ConditionalRequestConflict")


def client_config() -> Any:
    """The botocore client configuration ivory uses for S3 (D1.1).

    Retries: ``AWS_RETRY_MODE`` (default ``standard``) and ``AWS_MAX_ATTEMPTS`` (default 10);
    timeouts: 10 s to connect, 60 s to read; path-style addressing when ``AWS_ENDPOINT_URL_S3``
    or ``AWS_ENDPOINT_URL`` is set.

    Returns:
        botocore.config.Config: The configuration.

    Raises:
        UsageError: ``AWS_MAX_ATTEMPTS`` is not a positive integer.
    """
    from botocore.config import Config

    text = os.environ.get("AWS_MAX_ATTEMPTS", "")
    try:
        attempts = int(text) if text else _DEFAULT_MAX_ATTEMPTS
        if attempts < 1:
            raise ValueError
    except ValueError:
        raise UsageError(f"invalid AWS_MAX_ATTEMPTS {text!r}: use an integer >= 1") from None
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    return Config(
        retries={"mode": os.environ.get("AWS_RETRY_MODE") or "standard",  # type: ignore[typeddict-item]
                 "total_max_attempts": attempts},  # the first attempt included
        connect_timeout=_CONNECT_TIMEOUT,
        read_timeout=_READ_TIMEOUT,
        s3={"addressing_style": "path"} if endpoint else None,
    )


def new_client() -> Any:
    """Create an S3 client from the standard AWS chain (see the module docstring).

    Returns:
        botocore.client.S3: A new client, on its own boto3 session.

    Raises:
        StorageError: boto3 cannot build a client (e.g. an unknown profile or a bad endpoint);
            the message never holds credentials.
        UsageError: ``AWS_MAX_ATTEMPTS`` is invalid.
    """
    import boto3
    from botocore.exceptions import BotoCoreError

    config = client_config()
    try:
        session = boto3.session.Session()
        return session.client("s3", region_name=os.environ.get("AWS_REGION") or None,
                               config=config)
    except BotoCoreError as e:
        raise StorageError(f"cannot create an S3 client: {e}") from None


class _LazyClient:
    """One S3 client, created on first use and shared by a storage and its children."""

    def __init__(self, client: Any = None) -> None:
        self._client = client
        self._lock = threading.Lock()

    def get(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = new_client()
        return self._client


class S3Storage(Storage):
    """A storage in an S3 bucket, under an optional prefix (D1.1, D1.2).

    No client is created until the first request (and none at import time).

    Args:
        bucket (str): The bucket name.
        prefix (str): A key prefix inside the bucket (``"repos/main"``, with or without a
            trailing ``/``); ``""`` for the whole bucket.
        client: A boto3 S3 client to use; default: one created on first use from the standard
            AWS chain (:func:`new_client`). A pickled storage drops it and creates a new one.
        sse (str | None): Server-side encryption for every object written
            (``ServerSideEncryption``: ``"AES256"``, ``"aws:kms"`` or ``"aws:kms:dsse"``);
            None leaves it to the bucket's default.

    Raises:
        StorageError: The bucket name is empty or holds ``/``, or the prefix is not a valid key.
        UsageError: ``sse`` is not one of the values above.
    """

    scheme = "s3a"

    def __init__(self, bucket: str, prefix: str = "", *, client: Any = None,
                 sse: str | None = None) -> None:
        if not isinstance(bucket, str) or not bucket or "/" in bucket:
            raise StorageError(f"invalid S3 bucket {bucket!r}: give a bucket name without '/'")
        if sse is not None and sse not in SSE_VALUES:
            raise UsageError(f"invalid S3 server-side encryption {sse!r}: use one of "
                             f"{', '.join(SSE_VALUES)}")
        self.bucket = bucket
        self.prefix = dir_prefix(prefix) if prefix else ""
        self.sse = sse
        self._clients = client if isinstance(client, _LazyClient) else _LazyClient(client)

    # -- plumbing --------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The boto3 S3 client (created on first use).

        Raises:
            StorageError: The client cannot be created.
        """
        return self._clients.get()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_clients"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._clients = _LazyClient()

    def _k(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _sse(self) -> dict[str, str]:
        return {"ServerSideEncryption": self.sse} if self.sse else {}

    def _error(self, action: str, key: str, error: Exception) -> StorageError:
        """A :class:`StorageError` naming the action, key, location and S3's error code and
        message (never a request's headers, so never credentials)."""
        response = getattr(error, "response", None)
        if isinstance(response, dict):
            detail = response.get("Error", {})
            reason = f"{detail.get('Code', 'error')}: {detail.get('Message', '')}".rstrip(": ")
        else:
            reason = str(error) or type(error).__name__
        return StorageError(f"cannot {action} {key!r} in {self.describe()}: {reason}")

    @contextlib.contextmanager
    def _requests(self, action: str, key: str, missing: str | None = None) -> Iterator[None]:
        """Turn botocore errors into ivory's: a 404 into ``KeyNotFoundError(missing)`` when
        ``missing`` is given, anything else into :class:`StorageError`."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as e:
            if missing is not None and _code(e) in _NOT_FOUND_CODES:
                raise KeyNotFoundError(missing) from None
            raise self._error(action, key, e) from None
        except BotoCoreError as e:
            raise self._error(action, key, e) from None

    # -- objects ---------------------------------------------------------------------------

    def read(self, key: str) -> bytes:
        with self.open_read(key) as body, self._requests("read", key):
            return body.read()

    def open_read(self, key: str) -> BinaryIO:
        full = self._k(key)
        with self._requests("read", key, missing=key):
            return self.client.get_object(Bucket=self.bucket, Key=full)["Body"]

    def write(self, key: str, data: bytes) -> None:
        full = self._k(key)
        data = bytes(data)
        with self._requests("write", key):
            self.client.put_object(Bucket=self.bucket, Key=full, Body=data,
                                   ContentMD5=content_md5(data), **self._sse())

    def create_if_absent(self, key: str, data: bytes) -> None:
        """Create an object only if absent: ``PutObject`` with ``If-None-Match: *`` (D1.2).

        Raises:
            KeyExistsError: S3 answered 412 (the key exists) or 409 (a concurrent conditional
                write to the key is in flight): a lost race; nothing was written by this call.
            StorageError: Invalid key or any other failure.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        full = self._k(key)
        token = secrets.token_hex(16)
        try:
            data = bytes(data)
            self.client.put_object(Bucket=self.bucket, Key=full, Body=data,
                                   IfNoneMatch="*", Metadata={TOKEN_METADATA: token},
                                   ContentMD5=content_md5(data), **self._sse())
        except ClientError as e:
            if _code(e) not in _LOST_RACE_CODES and _status(e) not in (409, 412):
                raise self._error("create", key, e) from None
            retried = e.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            if retried and self._token(full) == token:
                return  # our first attempt created it; its response was lost and retried
            raise KeyExistsError(key) from None
        except BotoCoreError as e:
            raise self._error("create", key, e) from None

    def _token(self, full: str) -> str | None:
        """The ivory token of the object at ``full``, or None (missing, or any failure)."""
        with contextlib.suppress(Exception):
            head = self.client.head_object(Bucket=self.bucket, Key=full)
            return head.get("Metadata", {}).get(TOKEN_METADATA)
        return None

    def exists(self, key: str) -> bool:
        full = self._k(key)
        try:
            with self._requests("check", key, missing=key):
                self.client.head_object(Bucket=self.bucket, Key=full)
        except KeyNotFoundError:
            return False
        return True

    def size(self, key: str) -> int:
        full = self._k(key)
        with self._requests("stat", key, missing=key):
            return int(self.client.head_object(Bucket=self.bucket, Key=full)["ContentLength"])

    def delete(self, key: str) -> None:
        full = self._k(key)
        with self._requests("delete", key):
            self.client.delete_object(Bucket=self.bucket, Key=full)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``: a listing, then ``DeleteObjects`` per 1,000.

        Raises:
            StorageError: Invalid prefix, or S3 refused a request or some of the keys (the
                message names the first one and the count).
        """
        check_prefix(prefix)
        batch: list[str] = []
        deleted = 0
        for entry in self.list(prefix, None):
            batch.append(self.prefix + entry.key)
            if len(batch) == _DELETE_BATCH:
                deleted += self._delete_batch(prefix, batch)
                batch = []
        if batch:
            deleted += self._delete_batch(prefix, batch)
        return deleted

    def _delete_batch(self, prefix: str, keys: list[str]) -> int:
        with self._requests("delete objects under", prefix):
            response = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True})
        errors = response.get("Errors") or []
        if errors:
            first = errors[0]
            raise StorageError(
                f"cannot delete {len(errors)} of {len(keys)} objects under {prefix!r} in "
                f"{self.describe()}: first {first.get('Key', '?')!r}: "
                f"{first.get('Code', 'error')}: {first.get('Message', '')}")
        return len(keys)

    def copy(self, src: str, dst: str) -> None:
        """Copy with ``CopyObject`` (server side; a managed multipart copy above 5 GiB).

        Raises:
            KeyNotFoundError: No object under ``src``.
            StorageError: Invalid key or any other failure.
        """
        source = {"Bucket": self.bucket, "Key": self._k(src)}
        target = self._k(dst)
        with self._requests("copy", src, missing=src):
            try:
                self.client.copy_object(Bucket=self.bucket, Key=target, CopySource=source,
                                        **self._sse())
            except Exception as e:
                if _code(e) != "InvalidRequest" or self.size(src) <= _COPY_LIMIT:
                    raise
                self.client.copy(source, self.bucket, target, ExtraArgs=self._sse() or None)

    def open_write(self, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        full = self._k(key)
        return self._upload_on_close(key, full)

    @contextlib.contextmanager
    def _upload_on_close(self, key: str, full: str) -> Iterator[BinaryIO]:
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as buffer:
            yield buffer  # type: ignore[misc]
            if buffer.tell() <= _SPOOL_BYTES:  # small: one PutObject with Content-MD5
                buffer.seek(0)
                self.write(key, buffer.read())
                return
            buffer.seek(0)
            with self._requests("write", key):
                self.client.upload_fileobj(buffer, self.bucket, full,
                                           ExtraArgs=self._sse() or None)

    # -- listing ---------------------------------------------------------------------------

    def _list(self, prefix: str, delimiter: str | None, start_after: str | None,
              page_size: int) -> Iterator[ListEntry]:
        cut = len(self.prefix)
        last = None if start_after is None else self.prefix + start_after
        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix + prefix,
                                   "MaxKeys": page_size}
        if delimiter is not None:
            request["Delimiter"] = delimiter
        if last is not None:
            request["StartAfter"] = last
        while True:
            with self._requests("list", prefix or "/"):
                page = self.client.list_objects_v2(**request)
            found = [(o["Key"], int(o["Size"])) for o in page.get("Contents", ())
                     if not o["Key"].endswith("/")]  # directory markers are not objects
            found += [(p["Prefix"], None) for p in page.get("CommonPrefixes", ())]
            for full, size in sorted(found):
                # S3 returns a common prefix if any key under it sorts after StartAfter; the
                # interface wants only entries that themselves sort after it (and no repeats).
                if last is not None and full <= last:
                    continue
                last = full
                yield ListEntry(full[cut:], size, size is None)
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return
            request.pop("StartAfter", None)
            request["ContinuationToken"] = token

    # -- views and locations ---------------------------------------------------------------

    def child(self, prefix: str) -> Storage:
        if not prefix:
            return self
        return S3Storage(self.bucket, self.prefix + dir_prefix(prefix), client=self._clients,
                         sse=self.sse)

    def uri(self, key: str = "") -> str:
        """Return ``s3a://bucket/prefix/key``, what Spark's s3a connector opens (the root
        without its trailing ``/``)."""
        location = f"s3a://{self.bucket}/{self.prefix}{check_prefix(key) if key else ''}"
        return location if key else location.rstrip("/")

    def cache_identity(self) -> str | None:
        """``<endpoint URL>/<bucket>/<prefix>``: the same bucket name on two S3-compatible
        servers is two locations (D5.5)."""
        return f"{self.client.meta.endpoint_url}/{self.bucket}/{self.prefix}"

    def describe(self) -> str:
        """Return ``s3://bucket/prefix`` (no credentials, no endpoint)."""
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


def content_md5(data: bytes) -> str:
    """The ``Content-MD5`` header of a body: its MD5 digest, base64 (RFC 1864)."""
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


def _code(error: Exception) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _status(error: Exception) -> int | None:
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return None
    return response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def open_s3(location: str) -> S3Storage:
    """Open ``s3://bucket[/prefix]`` (or ``s3a://``), with ``sse`` from ``IVORY_S3_SSE``.

    Raises:
        StorageError: No bucket, or an invalid prefix.
        UsageError: ``IVORY_S3_SSE`` is not ``AES256``, ``aws:kms`` or ``aws:kms:dsse``.
    """
    scheme, _, rest = location.partition("://")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise StorageError(f"invalid location {location!r}: give {scheme}://bucket[/prefix]")
    sse = os.environ.get(SSE_ENV) or None
    if sse is not None and sse not in SSE_VALUES:
        raise UsageError(f"invalid {SSE_ENV} {sse!r}: use one of {', '.join(SSE_VALUES)}")
    return S3Storage(bucket, prefix, sse=sse)
