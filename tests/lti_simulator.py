"""A simulated LMS for the LTI 1.3 tests: an RSA key, its JWKS (served by ``fetch``, the
``Fetcher`` seam) and id_tokens signed with it, claims overridable per launch."""

from __future__ import annotations

import base64
import json
from typing import Any, Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from merito.domain import integrations as rules_
from merito.domain.ports import FetchResponse


class Clock(Protocol):
    def now(self) -> Any: ...


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SimulatedPlatform:
    """An LMS: an RSA key, its JWKS, and id_tokens signed with it."""

    issuer = "https://lms.example"
    client_id = "merito-tool"

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = self.key.public_key().public_numbers()
        self.jwk = {
            "kty": "RSA",
            "kid": "k1",
            "alg": "RS256",
            "use": "sig",
            "n": b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": b64(numbers.e.to_bytes(3, "big")),
        }
        self.fetches = 0

    def fetch(self, url: str, *, accept: str = "application/json") -> FetchResponse:
        self.fetches += 1
        body = json.dumps({"keys": [self.jwk]}).encode()
        return FetchResponse(status=200, body=body, content_type="application/json", url=url)

    def id_token(self, clock: Clock, nonce: str, **claims: Any) -> str:
        c = rules_.LTI_CLAIM
        now = int(clock.now().timestamp())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": "user-7",
            "exp": now + 300,
            "iat": now,
            "nonce": nonce,
            "email": "student@example.org",
            "name": "Stu Dent",
            c + "deployment_id": "dep-1",
            c + "message_type": "LtiResourceLinkRequest",
            c + "version": "1.3.0",
            c + "resource_link": {"id": "link-1", "title": "Week 1"},
            c + "context": {"id": "course-9", "title": "Data 101"},
            c + "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
            c + "custom": {"merito_completed": "true"},
        }
        payload.update(claims)
        header = {"alg": "RS256", "kid": "k1", "typ": "JWT"}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64(signature)}"
