"""Key order of JSON objects, reproducing the JVM hash-map iteration orders (§4.5, QUIRK).

Upstream kept struct values in JVM hash maps, so the field order of every printed JSON
object is an artefact of String.hashCode and of the map implementation. The expected
files of the conformance suite are explained by the rules of §4.5, implemented here:

1. ``>= 5`` keys, every context: Scala 2.11 immutable ``HashMap`` (hash trie) order.
2. ``<= 4`` keys, ``"stored"`` (a value read back from a factset or snapshot): Java 7
   ``HashMap`` with capacity ``2n``.
3. ``<= 4`` keys, ``"reduction"`` (a map built by a reducer, debug-dump-reduction):
   Java 7 ``HashMap`` with 16 buckets.
4. ``<= 4`` keys, ``"cat-thrift"``: Scala 2.11 ``mutable.HashMap`` with 16 buckets,
   filled in the order of rule 2 (the Thrift reader's Java map).

Within one bucket the most recently inserted key comes first, so the input order of
the keys matters only for keys that share a bucket: pass keys in insertion order (the
order the writer serialised them). :func:`ivory.values.render_value` passes the declared
field order of the struct encoding, a canonical choice that does not depend on how a
value was stored.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["CONTEXTS", "java_string_hash", "json_key_order"]

CONTEXTS = ("stored", "reduction", "cat-thrift")

_MASK = 0xFFFFFFFF


def java_string_hash(text: str) -> int:
    """Java ``String.hashCode`` as an unsigned 32-bit integer.

    ``h = 31 * h + unit`` over the UTF-16 code units (characters outside the BMP count
    as two surrogate units), wrapping at 32 bits.

    Args:
        text: Any string (lone surrogates are accepted).

    Returns:
        The hash in ``[0, 2**32)``; reinterpret as signed for the Java value.
    """
    h = 0
    if text.isascii() or all(ord(c) < 0x10000 for c in text):
        for c in text:
            h = (31 * h + ord(c)) & _MASK
        return h
    data = text.encode("utf-16-be", "surrogatepass")
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] << 8 | data[i + 1])) & _MASK
    return h


def _scala_immutable_sort_key(key: str) -> tuple[int, ...]:
    """Rule 1: the 5-bit groups of Scala 2.11 ``HashMap.improve(hashCode)``, LSB first."""
    h = java_string_hash(key)
    h = (h + (~(h << 9) & _MASK)) & _MASK
    h ^= h >> 14
    h = (h + (h << 4)) & _MASK
    h ^= h >> 10
    return tuple((h >> shift) & 31 for shift in range(0, 32, 5))


def _java7_bucket(key: str, table_size: int) -> int:
    """Rule 2/3: Java 7 ``HashMap.hash`` then ``indexFor`` (no alternative hashing)."""
    h = java_string_hash(key)
    h ^= (h >> 20) ^ (h >> 12)
    h ^= (h >> 7) ^ (h >> 4)
    return h & (table_size - 1)


def _scala_mutable_bucket(key: str) -> int:
    """Rule 4: Scala 2.11 ``mutable.HashTable.index`` for a 16-bucket table."""
    h = (java_string_hash(key) * 0x9E3775CD) & _MASK
    h = int.from_bytes(h.to_bytes(4, "big"), "little")  # Integer.reverseBytes
    h = (h * 0x9E3775CD) & _MASK
    h = ((h >> 4) | (h << 28)) & _MASK  # rotate right by the seed, bitCount(15) = 4
    return (h >> 28) & 15


def _bucket_order(keys: Sequence[str], buckets: list[int], descending: bool) -> list[str]:
    """Iterate buckets in order; inside a bucket the latest inserted key comes first."""
    indexed = list(enumerate(keys))
    sign = -1 if descending else 1
    indexed.sort(key=lambda item: (sign * buckets[item[0]], -item[0]))
    return [key for _, key in indexed]


def _java7_order(keys: Sequence[str], table_size: int) -> list[str]:
    return _bucket_order(keys, [_java7_bucket(k, table_size) for k in keys], False)


def _capacity_for(n: int) -> int:
    """Java 7 ``HashMap(2n)`` table size: the smallest power of two ``>= 2n`` (min 1)."""
    size = 1
    while size < 2 * n:
        size <<= 1
    return size


def json_key_order(keys: Sequence[str], context: str = "stored") -> list[str]:
    """The order in which upstream printed the keys of one JSON object (§4.5).

    Args:
        keys: Distinct keys, in insertion order (matters only for bucket collisions).
        context: ``"stored"`` (rule 1 for >= 5 keys, rule 2 otherwise), ``"reduction"``
            (rule 1 / rule 3) or ``"cat-thrift"`` (rule 1 / rule 4).

    Returns:
        The keys, reordered.

    Raises:
        ValueError: ``context`` is not one of :data:`CONTEXTS`.

    Examples (§4.5): stored ``{a,b,c}`` -> ``b,c,a``; ``{i,l}`` -> ``l,i``;
    cat-thrift ``{i,l}`` -> ``i,l``; any context ``{b,i,l,d,s}`` -> ``s,i,b,l,d``.
    """
    if context not in CONTEXTS:
        raise ValueError(f"Unknown key-order context '{context}', expected one of {CONTEXTS}")
    keys = list(keys)
    if len(keys) >= 5:
        return sorted(keys, key=_scala_immutable_sort_key)  # stable for equal hashes
    if context == "stored":
        return _java7_order(keys, _capacity_for(len(keys)))
    if context == "reduction":
        return _java7_order(keys, 16)
    inserted = _java7_order(keys, _capacity_for(len(keys)))
    return _bucket_order(inserted, [_scala_mutable_bucket(k) for k in inserted], True)
