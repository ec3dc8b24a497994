"""The job package: a deterministic zip of the ``ivory`` sources for ``spark-submit
--py-files`` (D4.2).

The same sources always give the same bytes (sorted entries, fixed 1980-01-01 timestamps,
fixed permissions, no ``__pycache__``), so the zip is named by its content
(``ivory-<16 hex of sha256>.zip``), uploaded once and reused.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

#: The directory of the ``ivory`` package whose sources are zipped.
PACKAGE_DIR = Path(__file__).resolve().parent

_EPOCH = (1980, 1, 1, 0, 0, 0)


def _source_files(root: Path) -> list[Path]:
    files = []
    for directory, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        for name in names:
            if name.endswith((".pyc", ".pyo")) or name.startswith("."):
                continue
            files.append(Path(directory) / name)
    return sorted(files, key=lambda p: p.relative_to(root.parent).as_posix())


def package_bytes(package_dir: Path = PACKAGE_DIR) -> bytes:
    """The zip's bytes: every source file of ``package_dir`` under its package name."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in _source_files(package_dir):
            info = zipfile.ZipInfo(path.relative_to(package_dir.parent).as_posix(), _EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    return buffer.getvalue()


def package_name(data: bytes) -> str:
    """``ivory-<first 16 hex digits of the zip's sha256>.zip``."""
    return f"ivory-{hashlib.sha256(data).hexdigest()[:16]}.zip"


def build_package(out_dir: str | os.PathLike[str], package_dir: Path = PACKAGE_DIR) -> Path:
    """Write the package zip into ``out_dir`` (created if needed) and return its path; a zip
    of the same name there already is reused (the name is the content's hash)."""
    data = package_bytes(package_dir)
    target = Path(out_dir) / package_name(data)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    partial.replace(target)
    return target
