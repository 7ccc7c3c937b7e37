"""The database every store shares: its engine, its transactions and its migrations.

SQLite under the state directory by default (one process, or a CLI next to it), PostgreSQL
when given its URL (several replicas). Alembic migrations (rag/migrations/) run when the
database opens; replicas that start together take turns through an advisory lock.

SQLite transactions: the driver's own transaction handling is switched off and BEGIN is sent
here, so a read inside a transaction sees one snapshot, and `writing()` begins IMMEDIATE: it
takes the write lock up front, so two writers never both read and then fail to upgrade.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# Any constant will do: replicas that start together take turns migrating PostgreSQL.
_MIGRATION_LOCK_ID = 0x5354524154
_SQLITE_FILE = "strata.sqlite3"
# Before everything moved into one database it held only the ledger.
_LEGACY_SQLITE_FILE = "ledger.sqlite3"
_BUSY_SECONDS = 30


def database_url(home: Path, url: str | None) -> str:
    """The SQLAlchemy URL: a PostgreSQL URL (given the psycopg driver) or SQLite under home."""
    if url is None:
        return f"sqlite:///{(home / _SQLITE_FILE).resolve()}"
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class Database:
    """One engine for all of Strata's state except vectors, migrated to the newest schema."""

    def __init__(self, engine: Engine) -> None:
        """Use an engine from Database.open(), which also migrates it."""
        self.engine = engine
        self._writer = engine.execution_options(strata_begin="IMMEDIATE")

    @classmethod
    def open(cls, url: str) -> Database:
        """Connect to url and bring its schema up to date."""
        engine = _engine(url)
        database = cls(engine)
        with database.writing() as connection:
            _migrate(connection)
        return database

    @classmethod
    def open_unmigrated(cls, url: str) -> Database:
        """Connect to url as it is, for a quick read: alembic is neither loaded nor run.

        A read may then fail on a schema older than this code; the caller falls back to open().
        """
        return cls(_engine(url))

    @property
    def is_postgresql(self) -> bool:
        """True on PostgreSQL, where row locks and SKIP LOCKED exist."""
        return self.engine.dialect.name == "postgresql"

    @property
    def writer(self) -> Engine:
        """The engine to begin write transactions on (`writer.begin()`)."""
        return self._writer

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        with self._writer.begin() as connection:
            yield connection

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only connection whose reads see one snapshot."""
        with self.engine.connect() as connection:
            yield connection

    def ping(self) -> bool:
        """True when the database answers."""
        with self.reading() as connection:
            return connection.execute(text("SELECT 1")).scalar() == 1

    def close(self) -> None:
        """Release every connection."""
        self.engine.dispose()


def insert_if_absent(connection: Connection, table: Table, row: dict[str, Any]) -> bool:
    """Insert row unless its key is taken; True if it went in. Atomic on both databases."""
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(row).on_conflict_do_nothing()
    key = next(iter(table.primary_key.columns))
    return connection.execute(statement.returning(key)).first() is not None


def insert_all_if_absent(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert every row whose key is not taken yet (others may be inserting the same)."""
    if rows:
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        connection.execute(insert(table).on_conflict_do_nothing(), rows)


def upsert(connection: Connection, table: Table, row: dict[str, Any]) -> None:
    """Insert row, or replace the other columns of the row with its primary key."""
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(row)
    keys = [column.name for column in table.primary_key.columns]
    changed = {name: statement.excluded[name] for name in row if name not in keys}
    connection.execute(statement.on_conflict_do_update(index_elements=keys, set_=changed))


def _engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    path = make_url(url).database
    if path:
        _adopt_legacy_file(Path(path))
    engine = create_engine(url, connect_args={"timeout": _BUSY_SECONDS})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Transactions are begun below, not by the driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL: readers never wait for the writer. NORMAL sync is durable across app crashes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("strata_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _adopt_legacy_file(path: Path) -> None:
    """Keep the usage history of a home whose database was still named after the ledger."""
    legacy = path.with_name(_LEGACY_SQLITE_FILE)
    if path.name != _SQLITE_FILE or path.exists() or not legacy.exists():
        return
    for suffix in ("-wal", "-shm", ""):
        old = legacy.with_name(legacy.name + suffix)
        if old.exists():
            old.replace(path.with_name(path.name + suffix))


def _migrate(connection: Connection) -> None:
    # Loaded here: alembic takes longer to import than a quick read takes to run.
    from alembic import command
    from alembic.config import Config

    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
