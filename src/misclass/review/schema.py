"""The review database: tables (SQLAlchemy 2.0) and how to open it.

By default the database is ``<store>/annotations.sqlite`` in WAL mode (readers never wait
for the writer; each decision is its own short transaction); any SQLAlchemy URL (e.g.
``postgresql+psycopg://user@host/db``) works instead.

Tables: ``users`` (name, hashed token), ``sessions`` (signed-in browsers, hashed session
token, CSRF token, whether signed in with a token), ``tasks`` and ``task_items`` (named image
sets in order), ``decisions`` (the latest value per image, class and reviewer),
``decision_log`` (every decision ever made, append-only), ``flags`` (problematic images per
reviewer) and ``picks`` (labeling mode: the class a labeler chose for an image). Opening a
database made by an older misclass adds the columns it lacks.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

from misclass.errors import InputError
from misclass.extras import require

require("sqlalchemy", "review", feature="The review database")

from sqlalchemy import (  # noqa: E402
    Boolean,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    false,
    inspect,
)
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.exc import ArgumentError, OperationalError  # noqa: E402
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker  # noqa: E402
from sqlalchemy.schema import CreateColumn  # noqa: E402

DB_FILE = "annotations.sqlite"
VALUES = ("correct", "wrong", "unclear", "unknown")
"""Decision values; "unknown" is shown as "Don't know". Unreviewed is the absence of a row."""
MODES = ("review", "label", "training")
"""Task modes: review candidates, label (pick a class), label with the answer shown."""


def utcnow() -> _dt.datetime:
    """Now in UTC, without time zone (as stored)."""
    return _dt.datetime.now(_dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Base of the review tables."""


class _Row:
    """Columns of every table: an id and when the row was made (UTC)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[_dt.datetime] = mapped_column(DateTime, default=utcnow)


class User(_Row, Base):
    """A reviewer: name and the SHA-256 hash of their token."""

    __tablename__ = "users"
    name: Mapped[str] = mapped_column(String(40), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)


class Session(_Row, Base):
    """A signed-in browser: hashed session token, CSRF token, reviewer, and whether the reviewer
    signed in with their token (a server that requires tokens refuses the other sessions)."""

    __tablename__ = "sessions"
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    with_token: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Task(_Row, Base):
    """A named set of images to review or label."""

    __tablename__ = "tasks"
    name: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    mode: Mapped[str] = mapped_column(String(10), default="review")
    top5: Mapped[bool] = mapped_column(Boolean, default=False)
    params: Mapped[str] = mapped_column(Text, default="{}")
    n_items: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(40), default="cli")


class TaskItem(_Row, Base):
    """One image of a task, at a position."""

    __tablename__ = "task_items"
    __table_args__ = (UniqueConstraint("task_id", "position"),)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    sample_index: Mapped[int] = mapped_column(Integer)
    sample_id: Mapped[str] = mapped_column(String(512))


class _PerImage(_Row):
    """Columns of every per-reviewer, per-image row: image, reviewer, task, when."""

    sample_id: Mapped[str] = mapped_column(String(512), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    task_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Decision(_PerImage, Base):
    """The latest decision of one reviewer on one candidate class of one image."""

    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("sample_id", "class_index", "user_id"),)
    class_index: Mapped[int] = mapped_column(Integer)
    value: Mapped[str] = mapped_column(String(10))


class DecisionLog(_PerImage, Base):
    """Every decision as made (value "unreviewed" when one was taken back)."""

    __tablename__ = "decision_log"
    class_index: Mapped[int] = mapped_column(Integer)
    value: Mapped[str] = mapped_column(String(10))


class Flag(_PerImage, Base):
    """A reviewer's problematic flag on an image, with a reason (task_id unused)."""

    __tablename__ = "flags"
    __table_args__ = (UniqueConstraint("sample_id", "user_id"),)
    problematic: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(500), default="")


class Pick(_PerImage, Base):
    """The class a labeler picked for an image (labeling mode)."""

    __tablename__ = "picks"
    __table_args__ = (UniqueConstraint("sample_id", "user_id"),)
    sample_index: Mapped[int] = mapped_column(Integer)
    class_index: Mapped[int] = mapped_column(Integer)


def database_url(store_path: str | os.PathLike, db: str | None = None) -> str:
    """``db`` when given, else the SQLite file ``<store>/annotations.sqlite``."""
    if db:
        return db
    return f"sqlite:///{Path(store_path).resolve() / DB_FILE}"


class Database:
    """An engine and two session factories: ``read()`` and ``write()`` (on SQLite a write
    transaction starts with ``BEGIN IMMEDIATE``, so concurrent writers queue instead of failing).

    Parameters
    ----------
    url : str
        SQLAlchemy URL.
    journal_mode : str
        SQLite journal mode ("WAL" by default; "DELETE" for comparison).
    """

    def __init__(self, url: str, *, journal_mode: str = "WAL", create: bool = True):
        try:
            self.engine: Engine = create_engine(url, pool_size=32, max_overflow=16, pool_timeout=60) \
                if url.startswith("sqlite") else create_engine(url, pool_pre_ping=True)
        except (ArgumentError, ImportError, ValueError) as exc:
            raise InputError(f"--db {_safe(url)!r}: not a usable SQLAlchemy URL ({exc})") from None
        self.url = _safe(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        if not create and self.is_sqlite:
            path = self.engine.url.database
            if path and path != ":memory:" and not Path(path).exists():
                raise InputError(f"{path} does not exist: no review decisions yet "
                                 "(start with: misclass review --store STORE)")
        if journal_mode.upper() not in ("WAL", "DELETE", "TRUNCATE", "PERSIST", "MEMORY", "OFF"):
            raise InputError(f"journal mode {journal_mode!r}: expected WAL or DELETE")
        if self.is_sqlite:
            _sqlite_setup(self.engine, journal_mode)
        self.writer = self.engine.execution_options(sqlite_immediate=True) if self.is_sqlite else self.engine
        self.read = sessionmaker(self.engine, expire_on_commit=False)
        self.write = sessionmaker(self.writer, expire_on_commit=False)
        try:
            if create:
                Base.metadata.create_all(self.engine)
                _add_missing_columns(self.engine)
            elif not inspect(self.engine).has_table("decisions"):
                raise InputError(f"{_safe(url)}: holds no review database (no decisions table)")
        except OperationalError as exc:
            raise InputError(f"{_safe(url)}: cannot open the review database ({exc.orig})") from None

    def dispose(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()


def _safe(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _add_missing_columns(engine: Engine) -> None:
    """Add columns that a database made by an older misclass lacks (their server defaults fill
    the old rows: a session from before ``with_token`` counts as opened without a token)."""
    for table in Base.metadata.sorted_tables:
        have = {c["name"] for c in inspect(engine).get_columns(table.name)}
        for column in table.columns:
            if column.name in have:
                continue
            ddl = CreateColumn(column).compile(dialect=engine.dialect)
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {ddl}")
            except OperationalError:  # another process added it first
                if column.name not in {c["name"] for c in inspect(engine).get_columns(table.name)}:
                    raise


def _sqlite_setup(engine: Engine, journal_mode: str) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # let SQLAlchemy's begin event emit BEGIN
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA journal_mode={journal_mode}")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def open_database(store_path: str | os.PathLike, db: str | None = None, **kwargs) -> Database:
    """The review database of a store (``db`` URL overrides the default SQLite file)."""
    return Database(database_url(store_path, db), **kwargs)
