"""Canonical JSON (RFC 8785, JCS, by the maintained `rfc8785` package), its SHA-256, the one
reader of canonical text, and where a byte sits in it.

- objects: keys sorted by their UTF-16 code units, no whitespace anywhere;
- strings: UTF-8, escaping only '"', '\\' and control characters;
- numbers: IEEE doubles in ECMAScript Number-to-String form (plain notation from 1e-6 to 1e21).
  NaN and infinities have no JSON form and are refused; so are integers beyond 2**53 (not exact
  as a double).

An integral float in [2**53, 1e21) is written without a fraction ("9007199254740992"): JCS
numbers are doubles, so `loads` reads an integer literal beyond 2**53 back as the float it was.
With it, canonical(loads(canonical(x))) == canonical(x) for every value canonical accepts.

The same value always gives the same bytes, so two exports of one ledger are byte-identical
and a hash of the bytes is a hash of the value.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import rfc8785

_MAX_SAFE_INTEGER = 2**53 - 1

Path = tuple[str | int, ...]  # keys and list indexes from the root


def canonical(value: Any) -> bytes:
    """The canonical UTF-8 bytes of a JSON value (dict, list, str, int, float, bool, None).
    ValueError for a number JSON cannot hold exactly, TypeError for a non-JSON value; both
    name the field."""
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as error:
        raise _diagnose(value, ()) from error


def sha256(value: Any) -> str:
    """Hex SHA-256 of `canonical(value)`."""
    return hashlib.sha256(canonical(value)).hexdigest()


def loads(data: bytes | str) -> Any:
    """A JSON value from text, integers beyond 2**53 read as the doubles JCS wrote them from.
    Raises UnicodeDecodeError and json.JSONDecodeError as json does, and ValueError for NaN
    and Infinity (not JSON, though Python's json reads them)."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    return json.loads(text, parse_int=_integer, parse_constant=_not_json)


def number(x: float) -> str:
    """ECMAScript Number::toString of a finite float (RFC 8785 section 3.2.2.3)."""
    if not math.isfinite(x):
        raise ValueError(f"{x!r} has no JSON form; store null or a string instead")
    return rfc8785.dumps(float(x)).decode("ascii")


def path_at(data: bytes, offset: int) -> str:
    """The JSON path ('report.contributors[3].value') of the innermost value of the canonical
    text `data` that contains byte `offset`, or '' when `data` is not canonical JSON."""
    try:
        value = loads(data)
        if canonical(value) != data:
            return ""
    except (UnicodeDecodeError, ValueError, TypeError):
        return ""
    return render_path(_locate(value, offset, ())) if 0 <= offset < len(data) else ""


def render_path(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int) or not part.isidentifier():
            out += f"[{part}]"  # list index, or a key such as a file path
        else:
            out += f".{part}" if out else part
    return out


def _integer(text: str) -> int | float:
    n = int(text)
    return n if abs(n) <= _MAX_SAFE_INTEGER else float(text)


def _not_json(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _locate(value: Any, offset: int, path: Path) -> Path:
    """The path of the innermost value containing byte `offset` of canonical(value): each
    member's extent is the length of its own canonical form, so the walk descends into one."""
    if isinstance(value, dict):
        at = 1  # "{"
        for key in sorted(value, key=lambda k: k.encode("utf-16-be")):
            at += len(rfc8785.dumps(key)) + 1  # "key":
            size = len(rfc8785.dumps(value[key]))
            if at <= offset < at + size:
                return _locate(value[key], offset - at, (*path, key))
            at += size + 1  # ","
    elif isinstance(value, list):
        at = 1  # "["
        for i, item in enumerate(value):
            size = len(rfc8785.dumps(item))
            if at <= offset < at + size:
                return _locate(item, offset - at, (*path, i))
            at += size + 1
    return path


def _diagnose(value: Any, path: Path) -> Exception | None:
    """The error naming the first value of `value` that has no canonical form."""
    where = render_path(path) or "the top level"
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return TypeError(f"key {key!r} at {where} is not a string")
            found = _diagnose(item, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _diagnose(item, (*path, i))
            if found is not None:
                return found
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            return ValueError(f"integer {value} at {where} is beyond 2**53: not exact")
    elif isinstance(value, float):
        if not math.isfinite(value):
            return ValueError(f"{value!r} at {where} has no JSON form; store null or a string")
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return ValueError(f"string at {where} holds a lone surrogate: not UTF-8")
    else:
        return TypeError(f"{type(value).__name__} at {where} is not JSON")
    return None if path else ValueError("value has no canonical JSON form")
