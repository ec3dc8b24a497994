#!/bin/bash
# EMR bootstrap action (design D4.5): install the ivory jobs' Python dependencies for the
# cluster's PYSPARK_PYTHON on every node, before any step runs. Referenced from
# ivory/emr/bootstrap.py::BOOTSTRAP_SCRIPT; its S3 copy is the profile's bootstrap_uri.
#
# Usage: install-python-deps.sh [PYTHON]   (default /usr/bin/python3.11)
set -euo pipefail

PYTHON="${1:-/usr/bin/python3.11}"

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    sudo dnf install -y python3.11 python3.11-pip
fi
"$PYTHON" -m ensurepip --upgrade >/dev/null 2>&1 || true
sudo "$PYTHON" -m pip install --quiet --upgrade \
    "pyarrow>=14" \
    "thrift>=0.16" \
    "boto3>=1.34"
"$PYTHON" -c "import pyarrow, thrift, boto3; print('ivory bootstrap: python deps ok')"
