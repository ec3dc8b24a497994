"""EMR profiles (D4.5, D6.3): the cluster a job runs on, as a frozen value.

A profile is ``conf/emr-<name>.json``; precedence is defaults < file < explicit overrides,
combined by the pure :func:`combine_profile`. Unknown keys are errors naming the key and the
file, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ivory.errors import UsageError

#: ``conf/`` at the root of the source tree; ``$IVORY_CONF_DIR`` replaces it.
CONF_DIR = Path(__file__).resolve().parents[2] / "conf"

STAGING_CHOICES = ("hdfs", "s3-direct")


class ProfileError(UsageError):
    """A profile file is missing, not JSON, or holds an unknown key or a bad value."""


@dataclasses.dataclass(frozen=True)
class EmrProfile:
    """The settings of an ephemeral EMR cluster and of the jobs' Python on it."""

    name: str = "default"
    release_label: str = "emr-7.5.0"
    region: str = "us-east-1"
    log_uri: str | None = None
    master_instance_type: str = "m5.xlarge"
    core_instance_type: str = "m5.xlarge"
    core_instance_count: int = 2
    subnet_id: str | None = None
    service_role: str = "EMR_DefaultRole"
    job_flow_role: str = "EMR_EC2_DefaultRole"
    #: Auto-termination after this many idle seconds (EMR allows 60 to 604800).
    idle_timeout_secs: int = 3600
    python: str = "/usr/bin/python3.11"
    #: ``hdfs``: copy inputs S3->HDFS and outputs HDFS->S3 with s3-dist-cp;
    #: ``s3-direct``: the job reads and writes S3 itself.
    staging: str = "hdfs"
    #: S3 URI of ``bootstrap/install-python-deps.sh`` once uploaded; None: no bootstrap.
    bootstrap_uri: str | None = None
    tags: tuple[tuple[str, str], ...] = ()


_FIELDS = {f.name: f for f in dataclasses.fields(EmrProfile)}
_TYPES: dict[str, tuple[type, ...]] = {
    "core_instance_count": (int,), "idle_timeout_secs": (int,), "tags": (dict, tuple, list),
    "log_uri": (str, type(None)), "subnet_id": (str, type(None)),
    "bootstrap_uri": (str, type(None)),
}


def combine_profile(file_values: Mapping[str, Any], overrides: Mapping[str, Any] | None = None,
                    *, source: str = "<profile>", name: str = "default") -> EmrProfile:
    """The profile of defaults < ``file_values`` < ``overrides`` (overrides that are None
    are ignored, so unset command-line options keep the file's value).

    Raises:
        ProfileError: an unknown key (named with ``source``) or a value of the wrong type.
    """
    values: dict[str, Any] = {"name": name}
    for origin, mapping in ((source, file_values),
                            ("overrides", {k: v for k, v in (overrides or {}).items()
                                           if v is not None})):
        for key, value in mapping.items():
            if key not in _FIELDS or key == "name":
                raise ProfileError(
                    f"unknown EMR profile key '{key}' in {origin}; known keys: "
                    f"{', '.join(k for k in _FIELDS if k != 'name')}")
            expected = _TYPES.get(key, (str,))
            if not isinstance(value, expected) or (isinstance(value, bool)
                                                   and bool not in expected):
                raise ProfileError(f"EMR profile key '{key}' in {origin} has the wrong type "
                                   f"({type(value).__name__}): {value!r}")
            values[key] = value
    tags = values.get("tags", ())
    values["tags"] = tuple(sorted((str(k), str(v)) for k, v in
                                  (tags.items() if isinstance(tags, dict) else tags)))
    if values.get("staging", "hdfs") not in STAGING_CHOICES:
        raise ProfileError(f"EMR profile key 'staging' in {source} must be one of "
                           f"{', '.join(STAGING_CHOICES)}, not '{values['staging']}'")
    timeout = values.get("idle_timeout_secs", EmrProfile.idle_timeout_secs)
    if not 60 <= timeout <= 604800:
        raise ProfileError(f"EMR profile key 'idle_timeout_secs' in {source} must be between "
                           f"60 and 604800 seconds, not {timeout}")
    return EmrProfile(**values)


def profile_path(name: str, conf_dir: str | os.PathLike[str] | None = None) -> Path:
    """``<conf>/emr-<name>.json``."""
    base = Path(conf_dir or os.environ.get("IVORY_CONF_DIR") or CONF_DIR)
    return base / f"emr-{name}.json"


def load_profile(name: str = "default", overrides: Mapping[str, Any] | None = None,
                 conf_dir: str | os.PathLike[str] | None = None) -> EmrProfile:
    """Read ``conf/emr-<name>.json`` and combine it with ``overrides``.

    Raises:
        ProfileError: no such file, not a JSON object, or a bad key or value.
    """
    path = profile_path(name, conf_dir)
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"no EMR profile '{name}': {path} does not exist") from None
    except (OSError, ValueError) as e:
        raise ProfileError(f"cannot read EMR profile {path}: {e}") from e
    if not isinstance(values, dict):
        raise ProfileError(f"EMR profile {path} must hold a JSON object")
    values = {k: v for k, v in values.items() if not k.startswith("//")}  # comments
    return combine_profile(values, overrides, source=str(path), name=name)
