"""Compact JWS signatures checked with a PEM public key (OB 2.0 signed assertions, RS256).

OB 2.0 §"Signed Badges": the assertion is the payload of a JWS (RFC 7515) whose key is the
issuer's ``CryptographicKey.publicKeyPem``. Only RS256 is accepted: it is what OB 2.0 names,
and an ``alg`` the key does not fit (``none``, HS256 with the PEM as secret) is refused.
"""

from __future__ import annotations

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from merito.errors import InvalidKey
from merito.proofs.keys import PublicKey, RsaPublicKey

__all__ = ["public_key_from_pem", "verify_with_pem"]


def public_key_from_pem(pem: str) -> PublicKey:
    """An RSA public key from ``-----BEGIN PUBLIC KEY-----`` text; InvalidKey otherwise."""
    try:
        key = load_pem_public_key(pem.encode("ascii"))
    except (ValueError, UnsupportedAlgorithm, UnicodeEncodeError) as e:
        raise InvalidKey("the issuer's publicKeyPem cannot be read", property="publicKeyPem") from e
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidKey("the issuer's publicKeyPem is not an RSA key", property="publicKeyPem")
    return RsaPublicKey(key)


def verify_with_pem(*, algorithm: object, signing_input: bytes, signature: bytes, pem: str) -> bool:
    """True when ``signature`` over ``signing_input`` verifies with the PEM key under RS256."""
    if algorithm != "RS256":
        return False
    return public_key_from_pem(pem).verify(signing_input, signature)
