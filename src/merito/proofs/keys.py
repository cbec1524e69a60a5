"""Signing keys (Ed25519, P-256, RSA): private key material never leaves this module's objects.

Algorithms follow JOSE names (RFC 7518 §3.1, RFC 8037 §3.1): ``EdDSA`` (Ed25519, via libsodium
for speed), ``ES256`` (P-256 + SHA-256, signatures as raw ``r || s``, RFC 7518 §3.4) and
``RS256`` (RSASSA-PKCS1-v1_5 + SHA-256, modulus of 2048 bits or more).
Public keys convert to JWK and, for Ed25519 and P-256, to Multikey ``publicKeyMultibase``
(Controlled Identifiers 1.0 §2.2.2). ``verify`` never raises on a bad signature: it returns False.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

import nacl.bindings
import nacl.exceptions
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from merito.errors import InvalidInput, InvalidKey
from merito.formats.multibase import (
    ED25519_PRIV,
    ED25519_PUB,
    P256_PRIV,
    P256_PUB,
    b64url_decode,
    b64url_encode,
    decode_multikey,
    encode_multikey,
)

__all__ = [
    "ALGORITHMS",
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "P256PrivateKey",
    "P256PublicKey",
    "PrivateKey",
    "PublicKey",
    "RsaPrivateKey",
    "RsaPublicKey",
    "Signer",
    "generate_key",
    "private_key_from_jwk",
    "private_key_from_multibase",
    "private_key_to_jwk",
    "public_key_from_jwk",
    "public_key_from_multibase",
]

#: JOSE algorithm name -> key type; the canonical names Merito accepts.
ALGORITHMS: Final[Mapping[str, str]] = {"EdDSA": "Ed25519", "ES256": "P-256", "RS256": "RSA"}
_KEY_TYPE_TO_ALG: Final = {v: k for k, v in ALGORITHMS.items()}

_P256_ORDER: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_RSA_MIN_BITS: Final = 2048


@runtime_checkable
class PublicKey(Protocol):
    """A verification key."""

    @property
    def algorithm(self) -> str:
        """The JOSE algorithm name: ``EdDSA``, ``ES256`` or ``RS256``."""
        ...

    @property
    def key_type(self) -> str:
        """``Ed25519``, ``P-256`` or ``RSA``."""
        ...

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is valid for ``message``; never raises on bad input."""
        ...

    def to_jwk(self) -> dict[str, str]:
        """The public JWK (RFC 7517), without ``kid``/``alg``."""
        ...

    def to_multibase(self) -> str:
        """Multikey ``publicKeyMultibase``; raises InvalidKey where Multikey is not defined."""
        ...


@runtime_checkable
class PrivateKey(Protocol):
    """A signing key; its secret never leaves the object except through private_key_to_jwk."""

    @property
    def algorithm(self) -> str: ...

    @property
    def public_key(self) -> PublicKey: ...

    def sign(self, message: bytes) -> bytes:
        """The signature of ``message`` (JOSE encoding for the algorithm)."""
        ...


# --- Ed25519 -----------------------------------------------------------------------------


class Ed25519PublicKey:
    """Ed25519 verification key (RFC 8032), verified with libsodium."""

    __slots__ = ("_raw",)
    algorithm: Final = "EdDSA"
    key_type: Final = "Ed25519"

    def __init__(self, raw: bytes) -> None:
        if len(raw) != 32:
            raise InvalidKey(f"an Ed25519 public key is 32 bytes, got {len(raw)}")
        self._raw = bytes(raw)

    @property
    def raw(self) -> bytes:
        return self._raw

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        try:
            nacl.bindings.crypto_sign_open(signature + message, self._raw)
        except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError):
            return False
        return True

    def to_jwk(self) -> dict[str, str]:
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(self._raw)}

    def to_multibase(self) -> str:
        return encode_multikey(ED25519_PUB, self._raw)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ed25519PublicKey) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"Ed25519PublicKey({self.to_multibase()})"


class Ed25519PrivateKey:
    """Ed25519 signing key held as libsodium's 64-byte secret key."""

    __slots__ = ("_public", "_secret")
    algorithm: Final = "EdDSA"

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise InvalidKey(f"an Ed25519 private key seed is 32 bytes, got {len(seed)}")
        public, secret = nacl.bindings.crypto_sign_seed_keypair(seed)
        self._secret: bytes = secret
        self._public = Ed25519PublicKey(public)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._public

    def sign(self, message: bytes) -> bytes:
        signed: bytes = nacl.bindings.crypto_sign(message, self._secret)
        return signed[:64]

    def _seed(self) -> bytes:
        seed: bytes = nacl.bindings.crypto_sign_ed25519_sk_to_seed(self._secret)
        return seed

    def __repr__(self) -> str:
        return f"Ed25519PrivateKey(public={self._public.to_multibase()})"


# --- P-256 -------------------------------------------------------------------------------


class P256PublicKey:
    """NIST P-256 verification key for ES256 (signatures are raw 64-byte r || s)."""

    __slots__ = ("_key",)
    algorithm: Final = "ES256"
    key_type: Final = "P-256"

    def __init__(self, key: ec.EllipticCurvePublicKey) -> None:
        if not isinstance(key.curve, ec.SECP256R1):
            raise InvalidKey(f"expected a P-256 key, got curve {key.curve.name!r}")
        self._key = key

    @classmethod
    def from_bytes(cls, data: bytes) -> P256PublicKey:
        """From a SEC1 point, compressed (33 bytes, as in Multikey) or uncompressed (65)."""
        try:
            return cls(ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data))
        except ValueError as e:
            raise InvalidKey(f"invalid P-256 public key point: {e}") from None

    def compressed(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        return self._key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        try:
            self._key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_jwk(self) -> dict[str, str]:
        numbers = self._key.public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(numbers.x.to_bytes(32, "big")),
            "y": b64url_encode(numbers.y.to_bytes(32, "big")),
        }

    def to_multibase(self) -> str:
        return encode_multikey(P256_PUB, self.compressed())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, P256PublicKey) and other.compressed() == self.compressed()

    def __hash__(self) -> int:
        return hash(self.compressed())

    def __repr__(self) -> str:
        return f"P256PublicKey({self.to_multibase()})"


class P256PrivateKey:
    """NIST P-256 signing key (ES256)."""

    __slots__ = ("_key", "_public")
    algorithm: Final = "ES256"

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(key.curve, ec.SECP256R1):
            raise InvalidKey(f"expected a P-256 key, got curve {key.curve.name!r}")
        self._key = key
        self._public = P256PublicKey(key.public_key())

    @property
    def public_key(self) -> P256PublicKey:
        return self._public

    def sign(self, message: bytes) -> bytes:
        r, s = decode_dss_signature(self._key.sign(message, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def __repr__(self) -> str:
        return f"P256PrivateKey(public={self._public.to_multibase()})"


# --- RSA ---------------------------------------------------------------------------------


class RsaPublicKey:
    """RSA verification key for RS256 (RSASSA-PKCS1-v1_5 with SHA-256)."""

    __slots__ = ("_key",)
    algorithm: Final = "RS256"
    key_type: Final = "RSA"

    def __init__(self, key: rsa.RSAPublicKey) -> None:
        if key.key_size < _RSA_MIN_BITS:
            raise InvalidKey(f"RSA keys must be at least {_RSA_MIN_BITS} bits, got {key.key_size}")
        self._key = key

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self._key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_jwk(self) -> dict[str, str]:
        numbers = self._key.public_numbers()
        return {"kty": "RSA", "n": _b64_int(numbers.n), "e": _b64_int(numbers.e)}

    def to_multibase(self) -> str:
        raise InvalidKey("Multikey is not defined for RSA keys; use publicKeyJwk")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RsaPublicKey) and other.to_jwk() == self.to_jwk()

    def __hash__(self) -> int:
        return hash(self.to_jwk()["n"])

    def __repr__(self) -> str:
        return f"RsaPublicKey({self._key.key_size} bits)"


class RsaPrivateKey:
    """RSA signing key (RS256)."""

    __slots__ = ("_key", "_public")
    algorithm: Final = "RS256"

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self._public = RsaPublicKey(key.public_key())
        self._key = key

    @property
    def public_key(self) -> RsaPublicKey:
        return self._public

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message, padding.PKCS1v15(), hashes.SHA256())

    def __repr__(self) -> str:
        return f"RsaPrivateKey({self._key.key_size} bits)"


# --- construction ------------------------------------------------------------------------


def _algorithm(name: str) -> str:
    """Normalise ``Ed25519``/``EdDSA``, ``P-256``/``ES256``, ``RSA``/``RS256`` to the JOSE name."""
    if name in ALGORITHMS:
        return name
    alg = _KEY_TYPE_TO_ALG.get(name)
    if alg is None:
        raise InvalidKey(
            f"unsupported key algorithm {name!r}; expected one of "
            f"{sorted([*ALGORITHMS, *_KEY_TYPE_TO_ALG])}",
            property="algorithm",
        )
    return alg


def generate_key(algorithm: str, *, seed: bytes | None = None) -> PrivateKey:
    """A new private key for ``algorithm`` (``Ed25519``/``EdDSA``, ``P-256``/``ES256``, ``RSA``).

    With ``seed`` the key is derived deterministically (Ed25519: the 32-byte seed itself;
    P-256: SHA-512(seed) reduced into [1, n-1]); RSA keys cannot be derived from a seed.
    Without ``seed``, randomness comes from ``os.urandom`` only.
    """
    alg = _algorithm(algorithm)
    if alg == "EdDSA":
        return Ed25519PrivateKey(os.urandom(32) if seed is None else seed)
    if alg == "ES256":
        material = os.urandom(64) if seed is None else hashlib.sha512(seed).digest()
        scalar = int.from_bytes(material, "big") % (_P256_ORDER - 1) + 1
        return P256PrivateKey(ec.derive_private_key(scalar, ec.SECP256R1()))
    if seed is not None:
        raise InvalidKey("RSA keys cannot be derived from a seed", property="seed")
    return RsaPrivateKey(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def _b64_int(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return b64url_encode(value.to_bytes(size, "big"))


def _jwk_bytes(jwk: Mapping[str, Any], name: str) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise InvalidKey(f"JWK member {name!r} is missing or not a string", property=name)
    try:
        return b64url_decode(value)
    except InvalidInput as e:
        raise InvalidKey(f"JWK member {name!r} is not base64url", property=name) from e


def _jwk_int(jwk: Mapping[str, Any], name: str) -> int:
    return int.from_bytes(_jwk_bytes(jwk, name), "big")


def public_key_from_jwk(jwk: Mapping[str, Any]) -> PublicKey:
    """Parse a public JWK (OKP/Ed25519, EC/P-256, RSA); raises InvalidKey on anything else."""
    if not isinstance(jwk, Mapping):
        raise InvalidKey("a JWK must be a JSON object", property="publicKeyJwk")
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "OKP" and crv == "Ed25519":
        return Ed25519PublicKey(_jwk_bytes(jwk, "x"))
    if kty == "EC" and crv == "P-256":
        x, y = _jwk_bytes(jwk, "x"), _jwk_bytes(jwk, "y")
        if len(x) != 32 or len(y) != 32:
            raise InvalidKey("P-256 JWK coordinates must be 32 bytes", property="x")
        return P256PublicKey.from_bytes(b"\x04" + x + y)
    if kty == "RSA":
        try:
            key = rsa.RSAPublicNumbers(_jwk_int(jwk, "e"), _jwk_int(jwk, "n")).public_key()
        except ValueError as e:
            raise InvalidKey(f"invalid RSA JWK: {e}", property="n") from None
        return RsaPublicKey(key)
    raise InvalidKey(
        f"unsupported JWK kty={kty!r} crv={crv!r}; expected OKP/Ed25519, EC/P-256 or RSA",
        property="kty",
    )


def public_key_from_multibase(value: str) -> PublicKey:
    """Parse a Multikey ``publicKeyMultibase`` (ed25519-pub 0xed, p256-pub 0x1200)."""
    try:
        codec, raw = decode_multikey(value)
    except InvalidInput as e:
        raise InvalidKey(
            f"publicKeyMultibase {value!r} is not valid multibase: {e.message}",
            property="publicKeyMultibase",
        ) from e
    if codec == ED25519_PUB:
        return Ed25519PublicKey(raw)
    if codec == P256_PUB:
        return P256PublicKey.from_bytes(raw)
    raise InvalidKey(
        f"unsupported multicodec 0x{codec:x} in publicKeyMultibase", property="publicKeyMultibase"
    )


def private_key_from_multibase(value: str) -> PrivateKey:
    """Parse a Multikey ``secretKeyMultibase`` (ed25519-priv 0x1300, p256-priv 0x1306)."""
    try:
        codec, raw = decode_multikey(value)
    except InvalidInput as e:
        raise InvalidKey(f"secret key is not valid multibase: {e.message}") from e
    if codec == ED25519_PRIV:
        return Ed25519PrivateKey(raw)
    if codec == P256_PRIV:
        return P256PrivateKey(ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1()))
    raise InvalidKey(f"unsupported multicodec 0x{codec:x} for a secret key")


def private_key_to_jwk(key: PrivateKey) -> dict[str, str]:
    """The private JWK of ``key`` (for key files and the encrypted key store only)."""
    if isinstance(key, Ed25519PrivateKey):
        return {**key.public_key.to_jwk(), "d": b64url_encode(key._seed())}
    if isinstance(key, P256PrivateKey):
        d = key._key.private_numbers().private_value
        return {**key.public_key.to_jwk(), "d": _b64_int(d, 32)}
    if isinstance(key, RsaPrivateKey):
        n = key._key.private_numbers()
        return {
            **key.public_key.to_jwk(),
            "d": _b64_int(n.d),
            "p": _b64_int(n.p),
            "q": _b64_int(n.q),
            "dp": _b64_int(n.dmp1),
            "dq": _b64_int(n.dmq1),
            "qi": _b64_int(n.iqmp),
        }
    raise InvalidKey(f"cannot export a {type(key).__name__} as JWK")


def private_key_from_jwk(jwk: Mapping[str, Any]) -> PrivateKey:
    """Parse a private JWK written by :func:`private_key_to_jwk` (or any RFC 7517 tool)."""
    public = public_key_from_jwk(jwk)
    if isinstance(public, Ed25519PublicKey):
        key: PrivateKey = Ed25519PrivateKey(_jwk_bytes(jwk, "d"))
    elif isinstance(public, P256PublicKey):
        try:
            key = P256PrivateKey(ec.derive_private_key(_jwk_int(jwk, "d"), ec.SECP256R1()))
        except ValueError as e:
            raise InvalidKey(f"invalid P-256 private key: {e}", property="d") from None
    else:
        pub = public_key_from_jwk(jwk).to_jwk()
        try:
            numbers = rsa.RSAPrivateNumbers(
                p=_jwk_int(jwk, "p"),
                q=_jwk_int(jwk, "q"),
                d=_jwk_int(jwk, "d"),
                dmp1=_jwk_int(jwk, "dp"),
                dmq1=_jwk_int(jwk, "dq"),
                iqmp=_jwk_int(jwk, "qi"),
                public_numbers=rsa.RSAPublicNumbers(
                    int.from_bytes(b64url_decode(pub["e"]), "big"),
                    int.from_bytes(b64url_decode(pub["n"]), "big"),
                ),
            )
            key = RsaPrivateKey(numbers.private_key())
        except ValueError as e:
            raise InvalidKey(f"invalid RSA private key: {e}", property="d") from None
    if key.public_key != public:
        raise InvalidKey("JWK private part does not match its public part", property="d")
    return key


@dataclass(frozen=True, slots=True)
class Signer:
    """A private key together with the verification method (DID URL) that names its public key."""

    key: PrivateKey
    verification_method: str

    @property
    def controller(self) -> str:
        """The DID (or controller document URL) before the ``#`` fragment."""
        return self.verification_method.split("#", 1)[0]

    @property
    def algorithm(self) -> str:
        return self.key.algorithm
