"""Reviewers' decisions, problematic flags and labeling picks: each is committed when made.

A decision updates the reviewer's current value for (image, class) in ``decisions`` and
appends to ``decision_log`` in the same transaction; "unreviewed" removes the current value.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select

from misclass.errors import InputError
from misclass.review.schema import VALUES, Database, Decision, DecisionLog, Flag, Pick, User, utcnow

MAX_REASON = 500


def _check_value(value: str) -> str:
    if value != "unreviewed" and value not in VALUES:
        raise InputError(f"value {value!r}: expected one of {', '.join(VALUES)} or unreviewed")
    return value


def record_decisions(db: Database, user_id: int, sample_id: str, changes: Iterable[tuple[int, str]],
                     *, task_id: int | None = None) -> int:
    """Set the reviewer's value of each ``(class, value)`` on one image; return how many changed."""
    changes = [(int(c), _check_value(v)) for c, v in changes]
    now = utcnow()
    n = 0
    with db.write() as s, s.begin():
        current = {d.class_index: d for d in s.scalars(
            select(Decision).where(Decision.sample_id == sample_id, Decision.user_id == user_id,
                                   Decision.class_index.in_([c for c, _ in changes])))}
        for c, v in changes:
            old = current.get(c)
            if (old.value if old else "unreviewed") == v:
                continue
            n += 1
            s.add(DecisionLog(sample_id=sample_id, class_index=c, user_id=user_id, value=v,
                              task_id=task_id, created_at=now))
            if v == "unreviewed":
                s.delete(old)
            elif old is None:
                s.add(Decision(sample_id=sample_id, class_index=c, user_id=user_id, value=v,
                               task_id=task_id, created_at=now))
            else:
                old.value, old.task_id, old.created_at = v, task_id, now
    return n


def user_decisions(db: Database, user_id: int, sample_id: str) -> dict[int, str]:
    """The reviewer's current value per class of one image."""
    with db.read() as s:
        return {c: v for c, v in s.execute(select(Decision.class_index, Decision.value).where(
            Decision.sample_id == sample_id, Decision.user_id == user_id))}


def sample_decisions(db: Database, sample_id: str) -> list[dict]:
    """Everyone's current decisions on one image: class, value, reviewer, when."""
    with db.read() as s:
        rows = s.execute(select(Decision.class_index, Decision.value, User.name, Decision.created_at)
                         .join(User, User.id == Decision.user_id).where(Decision.sample_id == sample_id)
                         .order_by(Decision.class_index, User.name))
        return [{"class": c, "value": v, "user": u, "at": t.isoformat(timespec="seconds")}
                for c, v, u, t in rows]


def set_flag(db: Database, user_id: int, sample_id: str, problematic: bool, reason: str = "") -> None:
    """Set or clear the reviewer's problematic flag on an image (reason: at most 500 characters)."""
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise InputError(f"reason: {len(reason)} characters; at most {MAX_REASON}")
    with db.write() as s, s.begin():
        row = s.scalar(select(Flag).where(Flag.sample_id == sample_id, Flag.user_id == user_id))
        if row is None:
            s.add(Flag(sample_id=sample_id, user_id=user_id, problematic=problematic, reason=reason))
        else:
            row.problematic, row.reason, row.created_at = problematic, reason, utcnow()


def user_flag(db: Database, user_id: int, sample_id: str) -> tuple[bool, str]:
    """The reviewer's (problematic, reason) on an image."""
    with db.read() as s:
        row = s.scalar(select(Flag).where(Flag.sample_id == sample_id, Flag.user_id == user_id))
    return (False, "") if row is None else (row.problematic, row.reason)


def set_pick(db: Database, user_id: int, sample_id: str, sample_index: int, class_index: int | None,
             *, task_id: int | None = None) -> None:
    """Record (or with ``class_index=None`` remove) the labeler's class for an image."""
    with db.write() as s, s.begin():
        row = s.scalar(select(Pick).where(Pick.sample_id == sample_id, Pick.user_id == user_id))
        if class_index is None:
            if row is not None:
                s.execute(delete(Pick).where(Pick.id == row.id))
        elif row is None:
            s.add(Pick(sample_id=sample_id, sample_index=sample_index, user_id=user_id,
                       class_index=class_index, task_id=task_id))
        else:
            row.class_index, row.task_id, row.created_at = class_index, task_id, utcnow()


def user_pick(db: Database, user_id: int, sample_id: str) -> int | None:
    """The labeler's class for an image, or None."""
    with db.read() as s:
        return s.scalar(select(Pick.class_index).where(Pick.sample_id == sample_id, Pick.user_id == user_id))


def all_decisions(db: Database) -> list[tuple[str, int, str, str]]:
    """Every current decision as ``(sample_id, class, reviewer name, value)``."""
    with db.read() as s:
        return [tuple(r) for r in s.execute(
            select(Decision.sample_id, Decision.class_index, User.name, Decision.value)
            .join(User, User.id == Decision.user_id).order_by(Decision.id))]


def all_flags(db: Database) -> list[tuple[str, str, bool, str]]:
    """Every flag as ``(sample_id, reviewer name, problematic, reason)``."""
    with db.read() as s:
        return [tuple(r) for r in s.execute(
            select(Flag.sample_id, User.name, Flag.problematic, Flag.reason)
            .join(User, User.id == Flag.user_id).order_by(Flag.id))]


def all_picks(db: Database) -> dict[str, list[tuple[int, int]]]:
    """Labeling picks per reviewer name: ``[(sample_index, class), ...]``."""
    out: dict[str, list[tuple[int, int]]] = {}
    with db.read() as s:
        for name, i, c in s.execute(select(User.name, Pick.sample_index, Pick.class_index)
                                    .join(User, User.id == Pick.user_id).order_by(Pick.id)):
            out.setdefault(name, []).append((i, c))
    return out
