"""Copy a local folder to an S3 prefix or an S3 prefix to a local folder, the part of
``aws s3 sync`` the upstream ``s3`` case uses, through boto3's standard AWS settings
(``AWS_ENDPOINT_URL`` for a local server).

Usage: ``s3sync.py DIR s3://bucket/prefix`` (upload, with SSE-S3 like ``--sse``) or
``s3sync.py s3://bucket/prefix DIR`` (download). Exits 1 with a message on a bad argument.
"""

from __future__ import annotations

import os
import sys

import boto3


def _split(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b")``."""
    bucket, _, prefix = uri[len("s3://"):].partition("/")
    return bucket, prefix.rstrip("/")


def main(source: str, target: str) -> None:
    """Upload every file under ``source`` below ``target``, or download every object below
    ``source`` into ``target``, keeping relative paths."""
    s3 = boto3.client("s3")
    if target.startswith("s3://"):
        bucket, prefix = _split(target)
        for folder, _, files in os.walk(source):
            for name in files:
                path = os.path.join(folder, name)
                key = f"{prefix}/{os.path.relpath(path, source)}"
                s3.upload_file(path, bucket, key, ExtraArgs={"ServerSideEncryption": "AES256"})
    elif source.startswith("s3://"):
        bucket, prefix = _split(source)
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
        for page in pages:
            for item in page.get("Contents", []):
                path = os.path.join(target, item["Key"][len(prefix) + 1:])
                os.makedirs(os.path.dirname(path), exist_ok=True)
                s3.download_file(bucket, item["Key"], path)
    else:
        sys.exit(f"s3sync: one of {source!r}, {target!r} must be an s3:// URI")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
