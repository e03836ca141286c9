"""Miroir's placement contract (docs/routing.md) recomputed independently in Python, so that
tests can tell where every document must live: XXH64 (seed 0) written from its specification."""

_P1 = 0x9E3779B185EBCA87
_P2 = 0xC2B2AE3D27D4EB4F
_P3 = 0x165667B19E3779F9
_P4 = 0x85EBCA77C2B2AE63
_P5 = 0x27D4EB2F165667C5
_M = (1 << 64) - 1


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & _M


def _round(acc, lane):
    acc = (acc + lane * _P2) & _M
    return (_rotl(acc, 31) * _P1) & _M


def _merge(acc, val):
    acc ^= _round(0, val)
    return (acc * _P1 + _P4) & _M


def xxh64(data: bytes, seed: int = 0) -> int:
    n = len(data)
    i = 0
    if n >= 32:
        v1 = (seed + _P1 + _P2) & _M
        v2 = (seed + _P2) & _M
        v3 = seed
        v4 = (seed - _P1) & _M
        while i + 32 <= n:
            v1 = _round(v1, int.from_bytes(data[i:i + 8], "little"))
            v2 = _round(v2, int.from_bytes(data[i + 8:i + 16], "little"))
            v3 = _round(v3, int.from_bytes(data[i + 16:i + 24], "little"))
            v4 = _round(v4, int.from_bytes(data[i + 24:i + 32], "little"))
            i += 32
        h = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & _M
        for v in (v1, v2, v3, v4):
            h = _merge(h, v)
    else:
        h = (seed + _P5) & _M
    h = (h + n) & _M
    while i + 8 <= n:
        h ^= _round(0, int.from_bytes(data[i:i + 8], "little"))
        h = (_rotl(h, 27) * _P1 + _P4) & _M
        i += 8
    if i + 4 <= n:
        h ^= (int.from_bytes(data[i:i + 4], "little") * _P1) & _M
        h = (_rotl(h, 23) * _P2 + _P3) & _M
        i += 4
    while i < n:
        h ^= (data[i] * _P5) & _M
        h = (_rotl(h, 11) * _P1) & _M
        i += 1
    h ^= h >> 33
    h = (h * _P2) & _M
    h ^= h >> 29
    h = (h * _P3) & _M
    h ^= h >> 32
    return h


# Each decimal digit of a stored shard as Miroir writes it (src/ingest/splitter.cpp): characters
# a tokenizer takes as separators, so that the field never matches a query.
SHARD_DIGITS = "()[]{}!?;:"


def shard_value(shard: int) -> str:
    """`_miroir_shard` as Miroir stores it for `shard`."""
    return "".join(SHARD_DIGITS[int(d)] for d in str(shard))


def stored_shard(value) -> int:
    """The shard a stored `_miroir_shard` names (Miroir's string, or a number)."""
    if isinstance(value, int):
        return value
    return int("".join(str(SHARD_DIGITS.index(c)) for c in value))


def shard_of(canonical_id: str, shards: int) -> int:
    return xxh64(canonical_id.encode()) % shards


def owners(shard: int, node_ids, rf: int):
    scored = sorted(node_ids, key=lambda n: (-xxh64(f"{shard}:{n}".encode()), n))
    return scored[:rf]
