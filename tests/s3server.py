"""A local S3 server for tests and benchmarks: moto's server mode on 127.0.0.1 (D1.1, D1.2).

:class:`S3Server` starts ``moto.server.ThreadedMotoServer`` on a free loopback port in this
process and hands out what a client needs: :attr:`S3Server.endpoint`, :meth:`S3Server.env` (the
``AWS_*`` variables that point boto3's standard chain at it, with throw-away credentials) and
fresh buckets. The pytest fixtures below wrap it: ``s3_server`` (one per session), ``s3_env``
(sets the variables for one test with ``monkeypatch``, so processes it spawns inherit them) and
``s3_bucket`` (a new bucket per test, emptied and removed afterwards). Assign the fixtures to
names in a test module to use them. :class:`RequestCounter`, :func:`build_history` and
:func:`measure_metadata_requests` count the S3 requests of the metadata store, for the tests and
``scripts/bench-metadata``.

**moto and If-None-Match.** moto 5 answers ``PutObject`` with ``If-None-Match: *`` on an
existing key with ``412 PreconditionFailed``, like S3, but it checks for the key and stores the
object in two separate steps, while its server handles requests on concurrent threads: two
racing conditional puts can both succeed. Measured with moto 5.2.5, 16 threads racing for one
key: no double winner in 300 races at Python's default thread switch interval, but 2 double
winners in 100 races at a 1 µs interval (and 500 errors where one put closed the buffer of the
object the other was still answering with); none in 100 such races with the lock below. S3
itself decides atomically. :func:`serialise_puts` makes moto's ``PutObject`` handler (and only
it) run under one lock, so conditional puts behave as on S3; :class:`S3Server` applies it on
start. Nothing in ivory depends on it: it fixes the test double.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import secrets
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

#: Throw-away credentials for the local server (moto accepts any); tests check that they never
#: show in messages.
ACCESS_KEY_ID = "AKIAIVORYTESTKEY0001"
SECRET_ACCESS_KEY = "ivory-test-secret-do-not-log-0123456789"
REGION = "eu-west-2"

_PUT_LOCK = threading.Lock()


def serialise_puts() -> None:
    """Run moto's ``PutObject`` handler under one process-wide lock, so that its
    ``If-None-Match: *`` check and the write are atomic as on S3 (idempotent)."""
    from moto.s3.responses import S3Response

    original = S3Response.put_object
    if getattr(original, "ivory_serialised", False):
        return

    @functools.wraps(original)
    def put_object(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _PUT_LOCK:
            return original(self, *args, **kwargs)

    put_object.ivory_serialised = True  # type: ignore[attr-defined]
    S3Response.put_object = put_object  # type: ignore[method-assign]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class S3Server:
    """moto's S3 in server mode, on 127.0.0.1 only.

    Args:
        atomic_puts (bool): Apply :func:`serialise_puts` (default: yes).
    """

    def __init__(self, atomic_puts: bool = True) -> None:
        from moto.server import ThreadedMotoServer

        if atomic_puts:
            serialise_puts()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request
        self.port = free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._client: Any = None

    def start(self) -> S3Server:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """The environment that points the standard AWS chain at this server."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
            # Keep a developer's own AWS files out of the tests.
            "AWS_CONFIG_FILE": "/nonexistent/ivory-test-aws-config",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/ivory-test-aws-credentials",
        }

    #: Variables removed for a test so that nothing but :meth:`env` configures boto3.
    UNSET = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3",
             "AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS", "IVORY_S3_SSE")

    def client(self) -> Any:
        """A boto3 client for this server (for set-up and inspection, not the code under
        test)."""
        if self._client is None:
            import boto3

            self._client = boto3.session.Session().client(
                "s3", endpoint_url=self.endpoint, region_name=REGION,
                aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY)
        return self._client

    def create_bucket(self, prefix: str = "ivory-test") -> str:
        """Create a new, uniquely named bucket and return its name."""
        name = f"{prefix}-{secrets.token_hex(6)}"
        self.client().create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        return name

    def delete_bucket(self, name: str) -> None:
        """Delete every object of the bucket, then the bucket."""
        client = self.client()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            objects = [{"Key": o["Key"]} for o in page.get("Contents", ())]
            if objects:
                client.delete_objects(Bucket=name, Delete={"Objects": objects, "Quiet": True})
        client.delete_bucket(Bucket=name)


@contextlib.contextmanager
def running_server(atomic_puts: bool = True) -> Iterator[S3Server]:
    """Start a server for the block, stop it afterwards."""
    server = S3Server(atomic_puts).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One local S3 server for the test session."""
    with running_server() as server:
        yield server


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point the standard AWS chain at the local server for one test; returns the variables."""
    for name in S3Server.UNSET:
        monkeypatch.delenv(name, raising=False)
    env = s3_server.env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def s3_bucket(s3_server: S3Server, s3_env: dict[str, str]) -> Iterator[str]:
    """A new, empty bucket on the local server for one test, removed afterwards."""
    name = s3_server.create_bucket()
    yield name
    s3_server.delete_bucket(name)


# -- counting requests (D2.4; scripts/bench-metadata, docs/request-counts.md) -------------------


class RequestCounter:
    """Counts a boto3 S3 client's API calls per operation (``before-call``: one per call,
    whatever its retries) and HTTP attempts (``before-send``), and records each call's API
    parameters (``before-parameter-build``) and the HTTP headers it sends (``before-call``).

    Args:
        client: The boto3 S3 client to observe.
    """

    def __init__(self, client: Any) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        self.sends: collections.Counter[str] = collections.Counter()
        self.params: list[tuple[str, dict[str, Any]]] = []
        self.headers: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()  # managed transfers call from worker threads
        client.meta.events.register("before-parameter-build.s3", self._params)
        client.meta.events.register("before-call.s3", self._call)
        client.meta.events.register("before-send.s3", self._send)

    def _params(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.params.append((model.name, dict(params)))

    def _call(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.calls[model.name] += 1
            self.headers.append((model.name, dict(params.get("headers", {}))))

    def _send(self, event_name: str, **_: Any) -> None:
        with self._lock:
            self.sends[event_name.rsplit(".", 1)[-1]] += 1

    @property
    def total(self) -> int:
        """API calls counted since the last :meth:`clear`."""
        return sum(self.calls.values())

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()
            self.sends.clear()
            self.params.clear()
            self.headers.clear()


def build_history(storage: Any, versions: int, threads: int = 1) -> None:
    """Write ``versions`` ``repository`` versions directly (not by committing), each pinning
    ``config`` 0, ``dictionary`` 0 and its own ``store`` version, and correct hints.

    Args:
        storage: The repository root (a :class:`~ivory.storage.Storage`).
        versions (int): How many versions of ``repository`` (and of ``store``).
        threads (int): Writers in parallel (the order of creation does not matter).
    """
    from concurrent.futures import ThreadPoolExecutor

    from ivory.metadata import REPOSITORY, MetadataStore, RepositoryState, Version

    store = MetadataStore(storage)
    store.create("config", Version(0), b'{"version": 3}')
    store.create("dictionary", Version(0), b"dictionary")

    def one(n: int) -> None:
        storage.create_if_absent(f"metadata/store/{n:08x}/value", f"f{n}\n".encode())
        pins = {"config": Version(0), "dictionary": Version(0), "store": Version(n)}
        storage.create_if_absent(f"metadata/{REPOSITORY}/{n:08x}/value",
                                 RepositoryState(Version(n), pins).render())

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(versions)))
    storage.write("metadata/store/.head", f"{versions - 1:08x}\n".encode())
    storage.write(f"metadata/{REPOSITORY}/.head", f"{versions - 1:08x}\n".encode())


def measure_metadata_requests(storage: Any, counter: RequestCounter, hint: str
                              ) -> dict[str, dict[str, int]]:
    """Count the S3 calls of three metadata operations, with the ``repository`` hint
    ``"fresh"``, ``"stale"`` (10 versions behind) or ``"none"`` (deleted) before each:
    ``open`` (find the head of ``repository`` and read it), ``dictionary`` (read the pinned
    dictionary of the opened state) and ``commit`` (one commit of a one-key change that reads
    the current ``store``, a prepend).

    Returns:
        dict[str, dict[str, int]]: Per operation, the calls per S3 operation plus ``"total"``.
    """
    from ivory.metadata import REPOSITORY, MetadataStore

    store = MetadataStore(storage, cache=None)  # cold costs: no local cache (D5.5)
    hint_key = f"metadata/{REPOSITORY}/.head"

    def set_hint() -> None:
        head = store.versions(REPOSITORY)[-1]
        if hint == "none":
            storage.delete(hint_key)
        else:
            behind = {"fresh": 0, "stale": 10}[hint]
            storage.write(hint_key, f"{head - behind:08x}\n".encode())
        counter.clear()

    def counted() -> dict[str, int]:
        return {**dict(sorted(counter.calls.items())), "total": counter.total}

    result = {}
    set_hint()
    state = store.read_repository()
    result["open"] = counted()
    counter.clear()
    if state is None or state.read("dictionary") != b"dictionary":
        raise AssertionError("the history is not the one build_history writes")
    result["dictionary"] = counted()
    set_hint()
    store.commit(lambda s: {"store": b"new\n" + ((s.read("store") if s else None) or b"")})
    result["commit"] = counted()
    return result
