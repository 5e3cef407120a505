"""Admin API tokens: random secrets shown once, stored as SHA-256 hashes, with scopes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from pasv.accounts.sqlbase import AccountDatabase, Tx

SCOPES = ("read", "write")
PREFIX = "pasv_"
# portable SQL (SQLite and PostgreSQL): ids are given explicitly, times are doubles
_TABLE = """CREATE TABLE IF NOT EXISTS admin_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    last_used DOUBLE PRECISION,
    revoked DOUBLE PRECISION
)"""


@dataclass(frozen=True, slots=True)
class Token:
    id: int
    name: str
    scopes: tuple[str, ...]
    created: float
    last_used: float | None
    revoked: float | None

    def allows(self, scope: str) -> bool:
        return self.revoked is None and scope in self.scopes


def _hash(secret: str) -> str:
    # the secret is 256 random bits: a plain hash cannot be reversed by guessing
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(text: str) -> tuple[str, ...]:
    scopes = tuple(dict.fromkeys(s.strip().lower() for s in text.split(",") if s.strip()))
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise ValueError(f"scopes are read and write (comma-separated), not {text!r}")
    if "write" in scopes and "read" not in scopes:
        scopes = ("read", *scopes)  # whoever may change may look
    return scopes


class TokenStore:
    """Tokens in the account database (a table of their own, made on first use)."""

    def __init__(self, accounts: AccountDatabase) -> None:
        self.accounts = accounts
        self.accounts.run(lambda c: c.execute(_TABLE))

    def create(self, name: str, scopes: tuple[str, ...]) -> tuple[Token, str]:
        """A new token and its secret (shown once; only its hash is kept)."""
        name = name.strip()
        if not name or len(name) > 64:
            raise ValueError("a token needs a name of 1 to 64 characters")
        secret = PREFIX + secrets.token_urlsafe(32)
        now = time.time()

        def work(tx: Tx) -> int:
            number = int(
                tx.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM admin_tokens").fetchone()[0]
            )
            tx.execute(
                "INSERT INTO admin_tokens (id, name, hash, scopes, created) VALUES (?, ?, ?, ?, ?)",
                (number, name, _hash(secret), ",".join(scopes), now),
            )
            return number

        number = self.accounts.run(work)
        return Token(number, name, scopes, now, None, None), secret

    def list(self) -> list[Token]:
        rows = self.accounts.read(
            "SELECT id, name, scopes, created, last_used, revoked FROM admin_tokens ORDER BY id"
        )
        return [_token(row) for row in rows]

    def revoke(self, number: int) -> bool:
        return bool(
            self.accounts.run(
                lambda c: (
                    c.execute(
                        "UPDATE admin_tokens SET revoked = ? WHERE id = ? AND revoked IS NULL",
                        (time.time(), number),
                    ).rowcount
                )
            )
        )

    def verify(self, secret: str) -> Token | None:
        """The token of this secret (revoked ones too: the caller says why it is refused)."""
        if not secret.startswith(PREFIX) or len(secret) > 200:
            return None
        digest = _hash(secret)
        rows = self.accounts.read(
            "SELECT id, name, scopes, created, last_used, revoked, hash FROM admin_tokens"
            " WHERE hash = ?",
            (digest,),
        )
        if not rows or not hmac.compare_digest(rows[0][6], digest):
            return None
        token = _token(rows[0][:6])
        if token.revoked is None and (token.last_used or 0) < time.time() - 60:
            self.accounts.run(
                lambda c: c.execute(
                    "UPDATE admin_tokens SET last_used = ? WHERE id = ?", (time.time(), token.id)
                )
            )
        return token


def _token(row: tuple[int, str, str, float, float | None, float | None]) -> Token:
    number, name, scopes, created, last_used, revoked = row
    return Token(number, name, tuple(scopes.split(",")), created, last_used, revoked)
