"""Value encodings of concrete features (§3.2, §4.1).

An encoding is one of:

* :class:`PrimitiveEncoding` -- ``boolean``, ``int`` (32-bit), ``long`` (64-bit),
  ``double`` (finite), ``string``, ``date`` (``yyyy-MM-dd``);
* :class:`StructEncoding` -- named primitive fields, each mandatory or optional (``*``);
* :class:`ListEncoding` -- a list of a primitive or of a struct (lists do not nest).

These are plain frozen values; parsing and rendering of the dictionary text lives in
:mod:`ivory.dictionary`, parsing and rendering of values in :mod:`ivory.values`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PrimitiveEncoding(enum.Enum):
    """A primitive encoding; ``.value`` is its dictionary text (``"boolean"``...)."""

    BOOLEAN = "boolean"
    INT = "int"
    LONG = "long"
    DOUBLE = "double"
    STRING = "string"
    DATE = "date"

    @property
    def is_numeric(self) -> bool:
        """True for ``int``, ``long`` and ``double`` (the encodings sum/mean accept, §3.6)."""
        return self in (PrimitiveEncoding.INT, PrimitiveEncoding.LONG, PrimitiveEncoding.DOUBLE)


@dataclass(frozen=True)
class StructField:
    """One field of a struct encoding; ``optional`` is the ``*`` marker (§3.2)."""

    name: str
    encoding: PrimitiveEncoding
    optional: bool = False


@dataclass(frozen=True)
class StructEncoding:
    """A struct of primitive fields, in declaration order."""

    fields: tuple[StructField, ...]

    def field(self, name: str) -> StructField | None:
        """The field called ``name``, or None."""
        for f in self.fields:
            if f.name == name:
                return f
        return None


@dataclass(frozen=True)
class ListEncoding:
    """A list whose elements are a primitive or a struct (§3.2: lists cannot nest)."""

    element: PrimitiveEncoding | StructEncoding


Encoding = PrimitiveEncoding | StructEncoding | ListEncoding
