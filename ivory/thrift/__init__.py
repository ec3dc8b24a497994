"""Thrift IDLs of ivory's stored metadata; generated code lives in :mod:`ivory.thrift.gen`."""

from __future__ import annotations
