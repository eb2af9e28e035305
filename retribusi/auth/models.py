"""Accounts, officers' market scope and API tokens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from retribusi.db import Base, BigId, IdPK


class Role(StrEnum):
    ADMIN = "admin"
    FINANCE = "finance"
    OFFICER = "officer"
    VENDOR = "vendor"


STAFF_ROLES = frozenset({Role.ADMIN, Role.FINANCE, Role.OFFICER})


class User(Base):
    """One login. Staff sign in with a username and password; vendors with a phone and a PIN.

    ``secret_hash`` holds the Argon2id hash of whichever secret the role uses.
    """

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "(role = 'vendor' AND phone IS NOT NULL AND username IS NULL)"
            " OR (role <> 'vendor' AND username IS NOT NULL)",
            name="login_matches_role",
        ),
        CheckConstraint("failed_logins >= 0", name="failed_logins_nonnegative"),
    )

    id: Mapped[IdPK]
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            native_enum=False,
            length=16,
            create_constraint=True,
            name="role",
            values_callable=lambda roles: [r.value for r in roles],
        )
    )
    username: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]

    markets: Mapped[list[UserMarket]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def market_codes(self) -> frozenset[str]:
        return frozenset(m.market_code for m in self.markets)

    @property
    def login_name(self) -> str:
        return self.username or self.phone or ""

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class UserMarket(Base):
    """The markets an officer works in. Codes, not rows: the kernel knows no market table."""

    __tablename__ = "user_markets"

    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    market_code: Mapped[str] = mapped_column(String(32), primary_key=True)

    user: Mapped[User] = relationship(back_populates="markets")


class ApiToken(Base):
    """A bearer token for scripts. Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[IdPK]
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")
