"""Canonical JSON (RFC 8785 style): ECMAScript number form, UTF-16 key order, escapes, and the
byte-to-field map verify uses to name what changed."""

import json
import math
import random

import pytest

from provenance.canonical import canonical, number, path_at, sha256


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (-0.5, "-0.5"),
        (0.1, "0.1"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (123456789012345680000.0, "123456789012345680000"),
        (1e21, "1e+21"),
        (4.5e300, "4.5e+300"),
        (5e-324, "5e-324"),
        (333333333.3333333, "333333333.3333333"),
    ],
)
def test_numbers_follow_ecmascript(value, text):
    # Expected strings are JavaScript's String(value) (RFC 8785 appendix B cases included).
    assert number(value) == text


def test_numbers_round_trip_exactly():
    rng = random.Random(0)
    for _ in range(2000):
        x = rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30)
        assert float(number(x)) == x


def test_objects_sort_keys_by_utf16_and_escape_only_what_json_must():
    value = {"b": 1, "a": [True, None, 'é\n\u0001"\\/'], "\U0001f600": 0, "\ufb01": 0}
    text = canonical(value).decode("utf-8")
    assert text == '{"a":[true,null,"é\\n\\u0001\\"\\\\/"],"b":1,"\U0001f600":0,"\ufb01":0}'
    assert json.loads(text) == value
    assert sha256(value) == sha256(json.loads(text))


def test_non_json_values_are_refused():
    with pytest.raises(ValueError):
        canonical({"x": math.nan})
    with pytest.raises(ValueError):
        canonical(2**60)
    with pytest.raises(TypeError):
        canonical({"x": object()})


def test_path_at_names_the_innermost_field():
    data = canonical({"report": {"rows": [{"value": 1.5}, {"value": 2}]}, "sha256": "ab"})
    assert path_at(data, data.index(b"1.5")) == "report.rows[0].value"
    assert path_at(data, data.index(b'"ab"')) == "sha256"
    assert path_at(b"{not json", 3) == ""
