"""Reviewers and their sign-in: users with tokens, browser sessions with CSRF tokens.

Tokens are random (``secrets.token_urlsafe``) and stored only as SHA-256 hashes; the CLI
prints a user's token once (``misclass review add-user NAME``). A session records whether it
was opened with the user's token; it lasts a fixed time from sign-in (12 hours by default).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select

from misclass.errors import InputError
from misclass.review.schema import Database, Session, User, utcnow

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
SESSION_HOURS = 12.0
"""How long a browser session lasts from sign-in, unless the app is given another time."""


class SessionRefused(Exception):
    """A session cookie that no longer signs anyone in: expired, or opened without a token
    where the server now requires one. The message tells the reviewer to sign in again."""


@dataclass(frozen=True)
class Reviewer:
    """A signed-in reviewer: user id and name, and the session's CSRF token."""

    id: int
    name: str
    csrf: str = ""


def hash_token(token: str) -> str:
    """SHA-256 hex digest of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_user_name(name: str) -> str:
    """Return ``name`` when it is a valid reviewer name (it also names the predictor ``human-NAME``)."""
    if not isinstance(name, str) or not NAME.match(name):
        raise InputError(f"user name {name!r}: use 1-40 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit")
    return name


def add_user(db: Database, name: str, *, new_token: bool = False) -> str:
    """Create reviewer ``name`` and return their token; ``new_token`` replaces the token of an
    existing reviewer (otherwise an existing name is an error)."""
    check_user_name(name)
    token = secrets.token_urlsafe(24)
    with db.write() as s, s.begin():
        user = s.scalar(select(User).where(User.name == name))
        if user is not None and not new_token:
            raise InputError(f"user {name!r} already exists; pass --new-token to issue a new token")
        if user is None:
            s.add(User(name=name, token_hash=hash_token(token)))
        else:
            user.token_hash = hash_token(token)
            s.execute(delete(Session).where(Session.user_id == user.id))
    return token


def list_users(db: Database) -> list[str]:
    """Reviewer names, sorted."""
    with db.read() as s:
        return list(s.scalars(select(User.name).order_by(User.name)))


def sign_in(db: Database, name: str, token: str | None, *, require_token: bool) -> tuple[str, Reviewer]:
    """Check ``name`` (and ``token`` when required); open a session. Returns (session token, reviewer).

    Without ``require_token`` (the server listens on loopback only) an unknown name is created.
    """
    check_user_name(name)
    session_token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with db.write() as s, s.begin():
        user = s.scalar(select(User).where(User.name == name))
        if require_token or token:
            if user is None or not token or not hmac.compare_digest(user.token_hash, hash_token(token)):
                raise InputError("unknown user name or wrong token "
                                 "(ask for one: misclass review add-user NAME)")
        elif user is None:
            user = User(name=name, token_hash=hash_token(secrets.token_urlsafe(24)))
            s.add(user)
            s.flush()
        s.add(Session(token_hash=hash_token(session_token), csrf=csrf, user_id=user.id,
                      with_token=bool(token)))
        return session_token, Reviewer(user.id, user.name, csrf)


def session_reviewer(db: Database, session_token: str | None, *, require_token: bool = False,
                     hours: float = SESSION_HOURS) -> Reviewer | None:
    """The reviewer of a session cookie, or None when there is no such session.

    Raises :class:`SessionRefused` for a session older than ``hours``, and, with
    ``require_token``, for one opened by name alone (for example by an earlier run of the
    server on loopback without ``--require-tokens``).
    """
    if not session_token or len(session_token) > 100:
        return None
    with db.read() as s:
        row = s.execute(select(User.id, User.name, Session.csrf, Session.created_at, Session.with_token)
                        .join(Session, Session.user_id == User.id)
                        .where(Session.token_hash == hash_token(session_token))).first()
    if row is None:
        return None
    if require_token and not row.with_token:
        raise SessionRefused("this session was opened without a token and this server requires one: "
                             "sign in again with your token")
    if utcnow() - row.created_at > _dt.timedelta(hours=hours):
        raise SessionRefused(f"your session expired (sessions last {hours:g} hours): sign in again")
    return Reviewer(row.id, row.name, row.csrf)


def token_reviewer(db: Database, token: str | None) -> Reviewer | None:
    """The reviewer whose user token this is (for API clients), or None."""
    if not token or len(token) > 100:
        return None
    with db.read() as s:
        user = s.scalar(select(User).where(User.token_hash == hash_token(token)))
    return None if user is None else Reviewer(user.id, user.name)


def sign_out(db: Database, session_token: str | None) -> None:
    """End a browser session."""
    if session_token:
        with db.write() as s, s.begin():
            s.execute(delete(Session).where(Session.token_hash == hash_token(session_token)))
