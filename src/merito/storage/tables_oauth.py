"""OAuth 2.0 server and the OB 3.0 API host: clients, codes, tokens, hosted credentials (0005).

Secrets (client secrets, authorization codes, access and refresh tokens) are random values of
at least 256 bits that Merito hands out once; only their SHA-256 is stored, so a copy of the
database grants nothing. A *grant* (``grant_id``) is one consent (or one client-credentials
issuance): every token issued from it shares the id, so a replayed code or a reused refresh
token revokes the whole family at once (RFC 6749 §4.1.2, OAuth 2.0 Security BCP §4.14).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from merito.storage.tables import Base, utcnow

__all__ = [
    "OAuthAuthorizationCodeRow",
    "OAuthAuthorizationRequestRow",
    "OAuthClientRow",
    "OAuthTokenRow",
    "Ob3CredentialRow",
    "Ob3ProfileRow",
]

TOKEN_KINDS: Final = ("access", "refresh")
AUTH_METHODS: Final = ("client_secret_basic", "client_secret_post")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class OAuthClientRow(Base):
    """A registered client: dynamically (RFC 7591, no org) or by an org admin (bound to it)."""

    __tablename__ = "oauth_clients"
    __table_args__ = (
        CheckConstraint(
            _one_of("token_endpoint_auth_method", AUTH_METHODS), name="token_endpoint_auth_method"
        ),
    )

    #: the public ``client_id``
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: set for machine clients an organisation registered (client_credentials tokens act there)
    org_id: Mapped[str | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    secret_hash: Mapped[str] = mapped_column(String(64))
    client_name: Mapped[str] = mapped_column(String(200))
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    #: the registered metadata as returned to the client (RFC 7591 §3.2.1), secret excluded
    client_metadata: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class OAuthAuthorizationRequestRow(Base):
    """An authorization request waiting for the user's decision on the consent page.

    Its random id (stored hashed) is the consent form's CSRF token: only the page shown to
    the user who made the request carries it.
    """

    __tablename__ = "oauth_authorization_requests"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    scope: Mapped[str] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]


class OAuthAuthorizationCodeRow(Base):
    """An authorization code (RFC 6749 §4.1.2): single use, short-lived, PKCE-bound."""

    __tablename__ = "oauth_authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    grant_id: Mapped[str] = mapped_column(String(36), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    scope: Mapped[str] = mapped_column(Text)
    #: RFC 7636 §4.2 S256 challenge (only S256 is accepted)
    code_challenge: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class OAuthTokenRow(Base):
    """An access or refresh token, stored as its SHA-256."""

    __tablename__ = "oauth_tokens"
    __table_args__ = (
        CheckConstraint(_one_of("kind", TOKEN_KINDS), name="kind"),
        CheckConstraint("user_id IS NOT NULL OR org_id IS NOT NULL", name="has_owner"),
        Index(None, "grant_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    grant_id: Mapped[str] = mapped_column(String(36))
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.id", ondelete="CASCADE"))
    #: the resource owner (authorization code grant)
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    #: the organisation a client-credentials token acts in
    org_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Ob3CredentialRow(Base):
    """A credential a user keeps on Merito through the OB 3.0 API (upsertCredential)."""

    __tablename__ = "ob3_credentials"
    __table_args__ = (
        UniqueConstraint("user_id", "credential_id"),
        Index(None, "user_id", "issued_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: the credential's ``id`` (VC 2.0 §4.4), or for a credential without one its SHA-256 URN
    credential_id: Mapped[str] = mapped_column(String(500))
    #: the credential as JSON (for a VC-JWT: its decoded ``vc`` / payload)
    document: Mapped[dict[str, Any]]
    #: the compact JWS exactly as received, for credentials secured as VC-JWT
    compact_jws: Mapped[str | None] = mapped_column(Text)
    #: validFrom / issuanceDate / iat: what getCredentials' ``since`` filters on
    issued_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Ob3ProfileRow(Base):
    """The OB 3.0 Profile of a user, as last stored through putProfile."""

    __tablename__ = "ob3_profiles"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    document: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
