"""Hostile input: the verifier returns a failed report and never raises, whatever it is given."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from verification_support import (
    ISSUER,
    ExplodingFetcher,
    ob3_credential,
    options,
    revocation_list_credential,
    sign,
)

from merito.domain.verification import CHECK_IDS, Outcome
from merito.verification import verify


def _rejected(document: Any, **kw: Any) -> Any:
    report = verify(document, options=options(fetcher=ExplodingFetcher(), **kw))
    assert not report.verified
    assert [c.id for c in report.checks] == list(CHECK_IDS)
    assert all(not c.details.get("internal_error") for c in report.checks), report.to_json()
    json.loads(report.to_json())  # always serialisable
    return report


def _parse_failure(document: Any, **kw: Any) -> str:
    report = _rejected(document, **kw)
    parse = report.check("parse")
    assert parse.outcome is Outcome.FAIL
    assert all(c.outcome is Outcome.SKIPPED for c in report.checks[1:])
    return parse.message


def _b64(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_100_mb_document_is_refused_by_size_before_parsing() -> None:
    huge = '{"a": "' + "x" * (100 * 1024 * 1024) + '"}'
    started = time.perf_counter()
    message = _parse_failure(huge)
    assert time.perf_counter() - started < 1.0
    assert "over the 1,000,000-byte limit" in message
    assert "over the" in _parse_failure(huge.encode())


def test_size_limit_is_configurable() -> None:
    text = json.dumps(sign(ob3_credential()))
    assert "byte limit" in _parse_failure(text, max_bytes=100)
    assert verify(text, options=options(max_bytes=len(text))).verified
    wide = "é" * 600  # 600 characters, 1,200 UTF-8 bytes
    assert "byte limit" in _parse_failure(json.dumps({"a": wide}), max_bytes=1_000)


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_10000_deep_text_is_refused_without_recursion_error(opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    message = _parse_failure(opener * 10_000 + "1" + closer * 10_000)
    assert "nested" in message


def test_deep_python_structures_are_refused_iteratively() -> None:
    deep: Any = {}
    node = deep
    for _ in range(10_000):
        node["a"] = {}
        node = node["a"]
    assert "more than 64 levels" in _parse_failure(deep)
    deep_list: Any = []
    for _ in range(10_000):
        deep_list = [deep_list]
    assert "is a Python list" in _parse_failure(deep_list)
    assert "more than 64 levels" in _parse_failure({"@context": deep_list})
    assert "levels" in _parse_failure(json.dumps({"a": [[[[1]]]]}), max_depth=3)


def test_cyclic_dict_terminates() -> None:
    cyclic: dict[str, Any] = {"type": "VerifiableCredential"}
    cyclic["self"] = cyclic
    cyclic["again"] = cyclic
    _parse_failure(cyclic)


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("[1, 2]", "an array"),
        ('"just a string"', "a JSON str"),
        ("42", "a JSON int"),
        ("null", "a JSON NoneType"),
        ('{"a": NaN}', "NaN"),
        ('{"a": Infinity}', "Infinity"),
        ('{"a": -Infinity}', "-Infinity"),
        ('{"a": 1, "a": 2}', "twice"),
        ('{"a": 1', "not valid JSON"),
        ("{'a': 1}", "not valid JSON"),
        ('{"a": "\\ud800"}', "surrogate"),
        ('{"a": ' + "9" * 5000 + "}", "not usable JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"a": "\xc3\x28"}', "not UTF-8"),
        ("eyJhbGciOiJFZERTQSJ9.bm90IGpzb24.c2ln", "JWT payload"),
        ("aaaa.bbbb.cccc", "JWT header"),
        (_b64({"alg": "EdDSA"}) + "." + _b64([1, 2]) + ".sig", "not a JSON object"),
        (_b64({"alg": "EdDSA"}) + "." + _b64({"iss": "x"}) + ".sig", "carries no credential"),
        (12345, "Python int"),
        (None, "Python NoneType"),
        ({"a": float("nan")}, "not a JSON number"),
        ({"a": {1, 2}}, "Python set"),
        ({1: "a"}, "not a string"),
        ({"a": b"bytes"}, "Python bytes"),
    ],
)
def test_unreadable_input_fails_parse_with_a_reason(document: Any, fragment: str) -> None:
    assert fragment in _parse_failure(document)


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"@context": "https://www.w3.org/ns/credentials/v2"},
        {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": 5},
        {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["Person"]},
        {"@context": 7, "type": "VerifiableCredential"},
        {"@context": [None], "type": "VerifiableCredential"},
        {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": "VerifiablePresentation"},
    ],
)
def test_documents_that_are_not_credentials_fail_format(document: Any) -> None:
    report = _rejected(document)
    assert report.check("format").outcome is Outcome.FAIL
    assert report.check("proof").outcome is Outcome.SKIPPED


BASE = sign(revocation_list_credential("x"))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("issuer", 42),
        ("issuer", {"name": "no id"}),
        ("issuer", ["a", "b"]),
        ("proof", "not a proof"),
        ("proof", []),
        ("proof", [1, 2]),
        ("proof", {"type": "DataIntegrityProof"}),
        ("proof", {"type": "DataIntegrityProof", "cryptosuite": ["x"], "proofValue": 5}),
        ("credentialSubject", None),
        ("credentialSubject", "subject"),
        ("credentialSubject", []),
        ("validFrom", 20240101),
        ("validFrom", "yesterday"),
        ("validUntil", "2024-13-45T99:99:99Z"),
        ("credentialStatus", "revoked?"),
        ("credentialStatus", [1]),
        ("credentialStatus", {"type": "BitstringStatusListEntry", "statusListIndex": "-1"}),
        ("type", {"not": "a list"}),
        ("@context", {"@vocab": "https://evil.example/#"}),
        ("@context", ["https://www.w3.org/ns/credentials/v2", {"x": {"@context": "https://e.x"}}]),
    ],
)
def test_wrong_types_everywhere_fail_without_raising(key: str, value: Any) -> None:
    document = {**BASE, key: value}
    report = _rejected(document)
    assert report.failures


def test_missing_credential_subject_and_issuer_are_named() -> None:
    document = {k: v for k, v in BASE.items() if k not in ("issuer", "credentialSubject")}
    report = _rejected(document)
    schema = report.check("schema")
    assert "'issuer' is missing" in schema.message
    assert "'credentialSubject' is missing" in schema.message


def test_jwt_looking_garbage_and_unsigned_tokens() -> None:
    credential = ob3_credential()
    for header in ({"alg": "none"}, {"alg": "HS256", "kid": ISSUER.verification_method}, {}):
        token = f"{_b64(header)}.{_b64({'vc': credential, 'iss': ISSUER.controller})}."
        report = _rejected(token)
        assert report.check("proof").outcome is Outcome.FAIL
    header = _b64({"alg": "EdDSA", "kid": ISSUER.verification_method})
    forged = f"{header}.{_b64({'vc': credential})}.{_b64(b'x' * 64)}"
    report = _rejected(forged)
    assert report.check("proof").outcome is Outcome.FAIL
    assert report.check("parse").outcome is Outcome.PASS


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(
                [
                    "@context",
                    "type",
                    "issuer",
                    "proof",
                    "credentialSubject",
                    "validFrom",
                    "validUntil",
                    "credentialStatus",
                    "id",
                    "vc",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=6,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_random_json_never_raises(value: Any) -> None:
    _rejected(value)
    try:
        text = json.dumps(value)
    except ValueError:
        return
    _rejected(text)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(data: bytes) -> None:
    _rejected(data)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.text(max_size=6), json_values, max_size=4),
    st.dictionaries(st.text(max_size=6), json_values, max_size=4),
    st.binary(max_size=70),
)
def test_random_jwts_never_raise(header: Any, payload: Any, signature: bytes) -> None:
    try:
        token = f"{_b64(header)}.{_b64(payload)}.{_b64(signature)}"
    except ValueError:
        return
    _rejected(token)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(sorted(BASE)), value=json_values)
def test_random_values_in_a_signed_credential_never_raise(key: str, value: Any) -> None:
    if BASE.get(key) == value:
        return
    _rejected({**BASE, key: value})


_RAISED_LIMIT_SCRIPT = """
import sys, threading
sys.setrecursionlimit(100_000)  # what py_ecc (imported with web3) does on import
from merito.verification import verify
from merito.proofs import vc_jwt
from merito.proofs.resolution import VerificationMethodResolver
from merito.formats.multibase import b64url_encode
deep = "[" * 100_000 + "]" * 100_000
deep_jwt = ".".join([b64url_encode(b'{"alg":"EdDSA"}'), b64url_encode(deep.encode()), "AA"])
out = []
def run():  # a worker thread, as under a server, has the smaller C stack
    out.append(verify(deep).checks[0].message)
    out.append(verify(deep_jwt).checks[0].message)
    out.append(vc_jwt.verify_jwt(deep_jwt, resolver=VerificationMethodResolver()).message)
thread = threading.Thread(target=run)
thread.start()
thread.join()
print("|".join(out))
"""


def test_deep_text_is_refused_even_when_a_library_raised_the_recursion_limit() -> None:
    # json.loads recurses in C up to the recursion limit: at 100,000 a deep document used to
    # overflow a thread's stack and kill the process (SIGSEGV) instead of failing "parse".
    done = subprocess.run(
        [sys.executable, "-c", _RAISED_LIMIT_SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    messages = done.stdout.strip().split("|")
    assert len(messages) == 3
    assert all("nested too deeply" in m for m in messages), messages
