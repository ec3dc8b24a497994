"""Hadoop's s3a connector for local Spark: jars and settings.

``hadoop-aws`` is not on PyPI except inside the ``sagemaker-pyspark`` sdist, which carries
``hadoop-aws-3.3.1`` and ``aws-java-sdk-bundle-1.11.901`` (they work with pyspark 3.5's
Hadoop 3.3.4 client). :func:`s3a_jars` fetches that sdist once with pip, checks both jars'
SHA-256 and keeps them in a cache directory (``$IVORY_CACHE_DIR/jars``, default
``~/.cache/ivory/jars``). On EMR the cluster's own s3a is used instead.

:func:`s3a_settings` passes the standard AWS settings on to s3a: ``AWS_ENDPOINT_URL`` (or
``AWS_ENDPOINT_URL_S3``) becomes the endpoint with path-style access, ``AWS_REGION`` the
region, ``AWS_PROFILE`` adds the profile provider. Credentials stay in the standard AWS chain
(environment, profile, instance role): they are never copied into Spark settings or logs.

Run ``python -m ivory.s3a`` (or ``scripts/fetch-s3a-jars``) to fetch the jars ahead of time.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ivory.errors import IvoryError

SDIST = "sagemaker-pyspark==1.4.5"
#: Jar name -> SHA-256 of the copy inside the sdist.
JARS = {
    "hadoop-aws-3.3.1.jar": "6be50ad8a8b445d2802381b085b2a3ede5c29d353450a6a21f16b2fefa962b6e",
    "aws-java-sdk-bundle-1.11.901.jar":
        "b87175b32a16544cc1b37cf40390eb375833e62bed67f8ce6cde4b7ad6429ead",
}


def cache_dir() -> Path:
    """Where the jars are kept: ``$IVORY_CACHE_DIR/jars`` or ``~/.cache/ivory/jars``."""
    root = os.environ.get("IVORY_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "ivory")
    return Path(root) / "jars"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def s3a_jars(download: bool = True) -> list[str]:
    """Paths of the s3a jars, fetched into the cache on first use.

    Raises:
        IvoryError: the jars are missing and ``download`` is False, pip could not fetch
            the sdist, or a jar's checksum is wrong.
    """
    target = cache_dir()
    paths = [target / name for name in JARS]
    if all(p.exists() for p in paths):
        return [str(p) for p in paths]
    if not download:
        raise IvoryError(f"the s3a jars are not in {target}: run scripts/fetch-s3a-jars")
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target) as work:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--no-binary", ":all:", SDIST, "-d", work],
            capture_output=True, text=True,
        )
        if done.returncode != 0:
            raise IvoryError(f"could not download {SDIST} for the s3a jars: "
                             f"{done.stderr.strip().splitlines()[-1:]}")
        sdist = next(Path(work).glob("*.tar.gz"))
        with tarfile.open(sdist) as archive:
            for member in archive.getmembers():
                name = os.path.basename(member.name)
                if name in JARS and member.isfile():
                    source = archive.extractfile(member)
                    assert source is not None
                    staged = Path(work) / name
                    with open(staged, "wb") as out:
                        shutil.copyfileobj(source, out)
                    if _sha256(staged) != JARS[name]:
                        raise IvoryError(f"{name} from {SDIST} has an unexpected SHA-256")
                    os.replace(staged, target / name)
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        raise IvoryError(f"{SDIST} did not contain {', '.join(missing)}")
    return [str(p) for p in paths]


def s3a_settings(environ: Mapping[str, str] | None = None, jars: list[str] | None = None
                 ) -> dict[str, str]:
    """Spark settings that let local Spark read and write ``s3a://`` URIs.

    Args:
        environ: the environment to read AWS settings from (default ``os.environ``).
        jars: the jar paths (default :func:`s3a_jars`).
    """
    env = os.environ if environ is None else environ
    jars = s3a_jars() if jars is None else jars
    settings = {
        "spark.jars": ",".join(jars),
        "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.aws.credentials.provider": ",".join(
            (["com.amazonaws.auth.profile.ProfileCredentialsProvider"]
             if env.get("AWS_PROFILE") else [])
            + ["com.amazonaws.auth.EnvironmentVariableCredentialsProvider",
               "org.apache.hadoop.fs.s3a.auth.IAMInstanceCredentialsProvider"]),
    }
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        settings["spark.hadoop.fs.s3a.endpoint"] = endpoint
        settings["spark.hadoop.fs.s3a.path.style.access"] = "true"
        settings["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(
            endpoint.startswith("https:")).lower()
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        settings["spark.hadoop.fs.s3a.endpoint.region"] = region
    return settings


if __name__ == "__main__":
    try:
        print("\n".join(s3a_jars()))
    except IvoryError as e:
        print(f"ivory: {e}", file=sys.stderr)
        sys.exit(1)
