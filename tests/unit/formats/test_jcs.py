"""RFC 8785 canonicalization (merito.formats.jcs), checked against the ``rfc8785`` package."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from merito.errors import InvalidInput
from merito.formats import jcs

_SAFE = 2**53 - 1
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-_SAFE, max_value=_SAFE)
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5)
    ),
    max_leaves=30,
)
# What credentials are made of: no floats, keys and text from the whole of Unicode.
plain_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-_SAFE, max_value=_SAFE) | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_equals_rfc8785_on_any_json(value: Any) -> None:
    assert jcs.canonicalize(value) == rfc8785.dumps(value)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(), plain_values, max_size=8))
def test_fast_path_equals_rfc8785(value: dict[str, Any]) -> None:
    expected = rfc8785.dumps(value)
    assert jcs.canonicalize(value) == expected
    if jcs._plain(value):
        # the fast path itself, not the fallback, produced the bytes
        assert jcs._ENCODE(value).encode("utf-8") == expected


_fast_floats = st.floats(min_value=1e-4, max_value=1e16, exclude_max=True).filter(
    lambda f: not f.is_integer()
)


@settings(max_examples=1000, deadline=None)
@given(st.lists(_fast_floats | _fast_floats.map(lambda f: -f), min_size=1, max_size=4))
def test_plain_decimal_floats_take_the_fast_path_and_equal_rfc8785(values: list[float]) -> None:
    document = {"credits": values}
    assert jcs._plain(document)
    assert jcs._ENCODE(document).encode("utf-8") == rfc8785.dumps(document)


@pytest.mark.parametrize("value", [2.0, -0.0, 1e16, 5e-5, 1e300, 2.5e-300])
def test_other_floats_fall_back(value: float) -> None:
    assert not jcs._plain({"n": value})
    assert jcs.canonicalize({"n": value}) == rfc8785.dumps({"n": value})


def test_escaping_follows_rfc8785_3_2_2_2() -> None:
    value = {"s": '"\\/\b\f\n\r\t\x00\x1f\x7f\u2028\u00e9\U0001f600'}
    out = jcs.canonicalize(value)
    assert (
        out
        == b'{"s":"\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\x7f'
        + ("\u2028\u00e9\U0001f600".encode())
        + b'"}'
    )
    assert out == rfc8785.dumps(value)


def test_keys_sort_by_utf16_code_units() -> None:
    # U+1F600 is D83D DE00 in UTF-16, which sorts before U+FB01 (by code point it is after).
    value = {"\ufb01": 1, "\U0001f600": 2, "a": 3}
    assert jcs.canonicalize(value) == rfc8785.dumps(value)
    assert jcs.canonicalize(value).decode().index("\U0001f600") < jcs.canonicalize(
        value
    ).decode().index("\ufb01")


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1"), (1e21, "1e+21"), (1e-7, "1e-7"), (-0.0, "0"), (0.1, "0.1"), (123.456, "123.456")],
)
def test_numbers_use_the_ecmascript_form(value: float, text: str) -> None:
    assert jcs.canonicalize({"n": value}) == f'{{"n":{text}}}'.encode()


@pytest.mark.parametrize(
    "value",
    [{"n": float("nan")}, {"n": float("inf")}, {"n": 2**53}, [-(2**60)], {"s": "\ud800"}, {1: 2}],
)
def test_values_without_a_canonical_form_raise(value: Any) -> None:
    with pytest.raises(InvalidInput):
        jcs.canonicalize(value)


def test_cycles_and_depth_raise_invalid_input() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(InvalidInput):
        jcs.canonicalize(cyclic)
    deep: Any = "x"
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(InvalidInput):
        jcs.canonicalize(deep)


def test_top_level_scalars_and_text_helper() -> None:
    assert jcs.canonicalize("é") == '"é"'.encode()
    assert jcs.canonicalize_str({"b": [1, True, None], "a": "x"}) == '{"a":"x","b":[1,true,null]}'
    assert json.loads(jcs.canonicalize({"z": {"y": 1}})) == {"z": {"y": 1}}
