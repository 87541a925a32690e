"""SQL of users and their API tokens / web sessions. Only hashes are stored: Argon2 for
passwords (``collector.api.auth`` hashes), SHA-256 for tokens (random, 256 bits)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from roomwatch.collector.db.workflow_models import ApiToken, User
from roomwatch.collector.errors import NotFoundError


def get_user(session: Session, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise NotFoundError(f"user {username!r} does not exist")
    return user


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def add_user(
    session: Session,
    username: str,
    role: str,
    password_hash: str | None,
    at: datetime,
    display_name: str = "",
) -> User:
    user = User(
        username=username,
        role=role,
        password_hash=password_hash,
        display_name=display_name,
        active=True,
        created_at=at,
    )
    session.add(user)
    session.flush()
    return user


def add_token(
    session: Session,
    user: User,
    *,
    kind: str,
    name: str,
    token_hash: str,
    prefix: str,
    at: datetime,
    expires_at: datetime | None = None,
) -> ApiToken:
    token = ApiToken(
        user=user,
        kind=kind,
        name=name,
        token_hash=token_hash,
        prefix=prefix,
        created_at=at,
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    return token


def revoke_tokens(
    session: Session, user: User, at: datetime, keep_token_id: int | None = None
) -> int:
    """Revoke every API token and web session of ``user`` still valid (but
    ``keep_token_id``); how many were revoked."""
    query = update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    if keep_token_id is not None:
        query = query.where(ApiToken.id != keep_token_id)
    result = session.execute(
        query.values(revoked_at=at), execution_options={"synchronize_session": "fetch"}
    )
    return int(getattr(result, "rowcount", 0) or 0)


def token_by_hash(session: Session, token_hash: str) -> ApiToken | None:
    return session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))


def get_token(session: Session, user: User, token_id: int) -> ApiToken:
    token = session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)
    )
    if token is None:
        raise NotFoundError(f"token {token_id} of {user.username!r} does not exist")
    return token


def admins_count(session: Session) -> int:
    return len(
        list(session.scalars(select(User.id).where(User.role == "admin", User.active.is_(True))))
    )
