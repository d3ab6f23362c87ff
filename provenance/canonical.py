"""Canonical JSON in the style of RFC 8785 (JCS), its SHA-256, and where a byte sits in it.

- objects: keys sorted by their UTF-16 code units, no whitespace anywhere;
- strings: UTF-8, escaping only '"', '\\' and control characters (\\b \\f \\n \\r \\t, else
  \\u00xx in lower-case hex), as JCS and JSON.stringify do;
- numbers: integers in plain decimal; floats in ECMAScript Number-to-String form (the shortest
  digits that round-trip, plain notation from 1e-6 to 1e21, else d.ddde+N). NaN and infinities
  have no JSON form and are refused. Integers beyond 2**53 are refused too (not exact in JCS).

The same value always gives the same bytes, so two exports of one ledger are byte-identical
and a hash of the bytes is a hash of the value.
"""

from __future__ import annotations

import hashlib
import json
import math
from decimal import Decimal
from typing import Any

_MAX_SAFE_INTEGER = 2**53 - 1

Path = tuple[str | int, ...]  # keys and list indexes from the root


def canonical(value: Any) -> bytes:
    """The canonical UTF-8 bytes of a JSON value (dict, list, str, int, float, bool, None)."""
    parts: list[str] = []
    _write(value, parts, None, (), [])
    return "".join(parts).encode("utf-8")


def sha256(value: Any) -> str:
    """Hex SHA-256 of `canonical(value)`."""
    return hashlib.sha256(canonical(value)).hexdigest()


def number(x: float) -> str:
    """ECMAScript Number::toString of a finite float (RFC 8785 section 3.2.2.3)."""
    if not math.isfinite(x):
        raise ValueError(f"{x!r} has no JSON form; store null or a string instead")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    _, digits, exponent = Decimal(repr(abs(x))).as_tuple()  # repr: shortest round trip
    s = "".join(map(str, digits)).rstrip("0")
    exponent += len(digits) - len(s)
    k, n = len(s), exponent + len(s)  # value = 0.s * 10**n
    if k <= n <= 21:
        text = s + "0" * (n - k)
    elif 0 < n <= 21:
        text = f"{s[:n]}.{s[n:]}"
    elif -6 < n <= 0:
        text = "0." + "0" * -n + s
    else:
        e = n - 1
        mantissa = s[0] + (f".{s[1:]}" if k > 1 else "")
        text = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + text


def path_at(data: bytes, offset: int) -> str:
    """The JSON path ('report.contributors[3].value') of the innermost value of the canonical
    text `data` that contains byte `offset`, or '' when `data` is not JSON."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return ""
    spans: list[tuple[int, int, Path]] = []
    parts: list[str] = []
    _write(value, parts, spans, (), [0])
    inside = [(end - start, p) for start, end, p in spans if start <= offset < end]
    return render_path(min(inside)[1]) if inside else ""


def render_path(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int) or not part.isidentifier():
            out += f"[{part}]"  # list index, or a key such as a file path
        else:
            out += f".{part}" if out else part
    return out


def _write(value: Any, parts: list[str], spans, path: Path, cursor: list[int]) -> None:
    """Append the canonical text of `value`; with `spans`, also record each value's byte range
    (cursor[0] counts UTF-8 bytes written)."""
    start = cursor[0] if spans is not None else 0

    def emit(text: str) -> None:
        parts.append(text)
        if spans is not None:
            cursor[0] += len(text.encode("utf-8"))

    if value is None:
        emit("null")
    elif value is True:
        emit("true")
    elif value is False:
        emit("false")
    elif isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            raise ValueError(f"integer {value} at {render_path(path)} is beyond 2**53: not exact")
        emit(str(value))
    elif isinstance(value, float):
        emit(number(value))
    elif isinstance(value, str):
        emit(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, list | tuple):
        emit("[")
        for i, item in enumerate(value):
            if i:
                emit(",")
            _write(item, parts, spans, (*path, i), cursor)
        emit("]")
    elif isinstance(value, dict):
        emit("{")
        keys = sorted(value, key=lambda key: key.encode("utf-16-be"))
        for i, key in enumerate(keys):
            if not isinstance(key, str):
                raise TypeError(f"key {key!r} at {render_path(path)} is not a string")
            if i:
                emit(",")
            emit(json.dumps(key, ensure_ascii=False) + ":")
            _write(value[key], parts, spans, (*path, key), cursor)
        emit("}")
    else:
        raise TypeError(f"{type(value).__name__} at {render_path(path)} is not JSON")
    if spans is not None:
        spans.append((start, cursor[0], path))
