"""SQL for :class:`~storages.backends.database.DatabaseStorage`, one class per dialect.

Identifiers (table and column names) come from settings, so they are checked
against a strict pattern and then quoted for the dialect; values (file names,
blobs, sizes, offsets) are always bound parameters, written ``?`` here and
turned into the driver's style by the connection. Nothing a user uploads is
ever part of the SQL text.
"""

# Every f-string of SQL here interpolates only identifiers that passed
# validate_identifier() and were quoted, never a value: S608 does not apply.
# ruff: noqa: S608

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

MiB = 1024 * 1024

# Letters, digits and underscores, not starting with a digit; a table may be
# schema-qualified (``schema.table``). 63 is PostgreSQL's limit, the smallest.
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

#: The escape character for LIKE patterns; one that needs no escaping in SQL text.
LIKE_ESCAPE = "!"


def validate_identifier(value: object, what: str, *, qualified: bool = False) -> str:
    """Return ``value`` if it is a plain SQL identifier; else raise ImproperlyConfigured."""
    if not isinstance(value, str):
        raise ImproperlyConfigured(f"DatabaseStorage {what} must be a string, not {value!r}.")
    parts = value.split(".") if qualified else [value]
    if len(parts) > 2 or not all(IDENTIFIER.fullmatch(part) for part in parts):
        raise ImproperlyConfigured(
            f"DatabaseStorage {what} {value!r} is not a plain SQL identifier "
            "(letters, digits and underscores"
            + (", optionally schema.table" if qualified else "")
            + ", at most 63 characters)."
        )
    return value


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching every string that starts with ``prefix`` literally."""
    escaped = (
        prefix.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )
    return escaped + "%"


@dataclass(frozen=True)
class Columns:
    """The quoted names of the table and its columns (modified may be absent)."""

    table: str
    name: str
    blob: str
    size: str
    modified: str | None


class Dialect:
    """Standard SQL; subclasses change what their database spells differently."""

    vendor = "standard"
    open_quote = close_quote = '"'
    #: Whether ``append_sql`` can grow a blob in place (else a save is one INSERT).
    can_append = True
    #: Largest number of bytes one partial read may ask for (None: no limit).
    max_read = None
    #: Default ``chunk_size``: the largest part one read query fetches. Reads of
    #: a file start at 256 KiB and double while sequential, up to this.
    read_part = 4 * MiB
    #: Default ``write_chunk_size``: bytes sent by one statement of a save.
    write_part = 8 * MiB
    #: SQL answering the server's largest packet, if parts must fit in one.
    packet_sql: str | None = None
    #: SQL of a blob of ``?`` zero bytes, written afterwards through a blob
    #: handle (None: the dialect has no incremental blob I/O).
    zeroblob: str | None = None
    blob_type = "BLOB"
    name_type = "VARCHAR({length})"
    savepoint_sql: tuple[str, str, str | None] = (
        "SAVEPOINT {name}",
        "ROLLBACK TO SAVEPOINT {name}",
        "RELEASE SAVEPOINT {name}",
    )

    def quote(self, identifier: str) -> str:
        return ".".join(
            f"{self.open_quote}{part}{self.close_quote}" for part in identifier.split(".")
        )

    def columns(self, table: str, name: str, blob: str, size: str, modified: str | None) -> Columns:
        return Columns(
            table=self.quote(table),
            name=self.quote(name),
            blob=self.quote(blob),
            size=self.quote(size),
            modified=self.quote(modified) if modified else None,
        )

    def folded(self, identifier: str) -> str:
        """How the database spells ``identifier`` written without quotes."""
        return identifier

    def probe_sql(self, table: str) -> str:
        """No rows, only the table's column names (in the cursor's description)."""
        return f"SELECT * FROM {self.quote(table)} WHERE 1 = 0"

    # Reading.
    def substring(self, blob: str) -> str:
        """An expression for part of ``blob``: parameters are (1-based offset, length)."""
        return f"SUBSTRING({blob} FROM ? FOR ?)"

    def length(self, blob: str) -> str:
        return f"OCTET_LENGTH({blob})"

    def read_sql(self, c: Columns) -> str:
        """Parameters: offset (1-based), length, name. Returns part, size, modified."""
        modified = c.modified or "NULL"
        return (
            f"SELECT {self.substring(c.blob)}, {c.size}, {modified} "
            f"FROM {c.table} WHERE {c.name} = ?"
        )

    def read_params(self, offset: int, length: int, name: str) -> tuple:
        """The parameters of ``read_sql`` in the order its text wants them."""
        return (offset, length, name)

    def stat_sql(self, c: Columns) -> str:
        modified = c.modified or "NULL"
        return f"SELECT {c.size}, {modified} FROM {c.table} WHERE {c.name} = ?"

    def list_sql(self, c: Columns) -> str:
        return (
            f"SELECT {c.name} FROM {c.table} WHERE {c.name} LIKE ? ESCAPE '{LIKE_ESCAPE}' "
            f"ORDER BY {c.name}"
        )

    def list_all_sql(self, c: Columns) -> str:
        return f"SELECT {c.name} FROM {c.table} ORDER BY {c.name}"

    # Writing: a save inserts (or upserts) the first part, appends the rest,
    # then records the size and time, all in one transaction.
    # ``blob`` is the SQL of the blob's value: a placeholder, or SQLite's
    # ``zeroblob(?)`` when the bytes are written afterwards through a blob handle.
    def insert_sql(self, c: Columns, blob: str = "?") -> str:
        """Parameters: name, blob, size, [modified]."""
        cols = [c.name, c.blob, c.size] + ([c.modified] if c.modified else [])
        marks = ", ".join(["?", blob] + ["?"] * (len(cols) - 2))
        return f"INSERT INTO {c.table} ({', '.join(cols)}) VALUES ({marks})"

    def upsert_sql(self, c: Columns, blob: str = "?") -> str | None:
        """Like ``insert_sql`` but replacing an existing row; None if the dialect has none."""
        return None

    def insert_new_sql(self, c: Columns, blob: str = "?") -> str | None:
        """Like ``insert_sql`` but inserting nothing (no error) if the name is taken.

        None if the dialect has no such statement: then a taken name is an
        integrity error, caught in a savepoint.
        """
        return None

    def update_sql(self, c: Columns, blob: str = "?") -> str:
        """Parameters: blob, size, [modified], name."""
        sets = [f"{c.blob} = {blob}", f"{c.size} = ?"]
        sets += [f"{c.modified} = ?"] if c.modified else []
        return f"UPDATE {c.table} SET {', '.join(sets)} WHERE {c.name} = ?"

    def append_expression(self, blob: str) -> str:
        return f"{blob} || ?"

    def append_sql(self, c: Columns) -> str:
        """Parameters: more bytes, name."""
        return (
            f"UPDATE {c.table} SET {c.blob} = {self.append_expression(c.blob)} WHERE {c.name} = ?"
        )

    def finish_sql(self, c: Columns) -> str:
        """Parameters: size, [modified], name."""
        sets = [f"{c.size} = ?"] + ([f"{c.modified} = ?"] if c.modified else [])
        return f"UPDATE {c.table} SET {', '.join(sets)} WHERE {c.name} = ?"

    def length_sql(self, c: Columns) -> str:
        return f"SELECT {self.length(c.blob)} FROM {c.table} WHERE {c.name} = ?"

    def exists_sql(self, c: Columns) -> str:
        return f"SELECT 1 FROM {c.table} WHERE {c.name} = ?"

    def delete_sql(self, c: Columns) -> str:
        return f"DELETE FROM {c.table} WHERE {c.name} = ?"

    # Schema.
    def create_table_sql(self, c: Columns, name_length: int = 255) -> list[str]:
        columns = [
            f"{c.name} {self.name_type.format(length=int(name_length))} NOT NULL PRIMARY KEY",
            f"{c.blob} {self.blob_type} NOT NULL",
            f"{c.size} BIGINT NOT NULL",
        ]
        if c.modified:
            columns.append(f"{c.modified} BIGINT NOT NULL")
        return [f"CREATE TABLE IF NOT EXISTS {c.table} ({', '.join(columns)})"]

    def drop_table_sql(self, c: Columns) -> list[str]:
        return [f"DROP TABLE IF EXISTS {c.table}"]


class SQLiteDialect(Dialect):
    vendor = "sqlite"
    # Through a Django alias reads and saves use incremental blob I/O (each
    # read opens the blob and walks its page chain to the offset, so larger
    # parts are cheaper); through ODBC each substr() loads the whole value.
    read_part = 8 * MiB
    zeroblob = "zeroblob(?)"

    def create_table_sql(self, c: Columns, name_length: int = 255) -> list[str]:
        # The blob last: SQLite keeps a record's columns in order, so a column
        # after a large blob is read by walking the blob's overflow pages, and
        # a zeroblob() that is not the last column is built in memory.
        columns = [
            f"{c.name} {self.name_type.format(length=int(name_length))} NOT NULL PRIMARY KEY",
            f"{c.size} BIGINT NOT NULL",
        ]
        if c.modified:
            columns.append(f"{c.modified} BIGINT NOT NULL")
        columns.append(f"{c.blob} {self.blob_type} NOT NULL")
        return [f"CREATE TABLE IF NOT EXISTS {c.table} ({', '.join(columns)})"]

    def rowid_sql(self, c: Columns) -> str:
        """Parameters: name. Returns rowid, size, modified (the blob handle needs the rowid)."""
        modified = c.modified or "NULL"
        return f"SELECT rowid, {c.size}, {modified} FROM {c.table} WHERE {c.name} = ?"

    def resize_sql(self, c: Columns) -> str:
        """Parameters: new size, new size, name. Whole-value work: only for content that lied
        about its size (more bytes: zero-padded; fewer: cut)."""
        return (
            f"UPDATE {c.table} "
            f"SET {c.blob} = substr(CAST({c.blob} || zeroblob(?) AS BLOB), 1, ?) "
            f"WHERE {c.name} = ?"
        )

    def substring(self, blob: str) -> str:
        # CAST keeps the result a blob whatever the driver guesses for expressions.
        return f"CAST(substr({blob}, ?, ?) AS BLOB)"

    def length(self, blob: str) -> str:
        return f"length({blob})"

    def append_expression(self, blob: str) -> str:
        # || works on text; the cast turns the bytes (all kept) back into a blob.
        return f"CAST({blob} || ? AS BLOB)"

    def upsert_sql(self, c: Columns, blob: str = "?") -> str:
        sets = [f"{c.blob} = excluded.{c.blob}", f"{c.size} = excluded.{c.size}"]
        if c.modified:
            sets.append(f"{c.modified} = excluded.{c.modified}")
        return f"{self.insert_sql(c, blob)} ON CONFLICT ({c.name}) DO UPDATE SET {', '.join(sets)}"

    def insert_new_sql(self, c: Columns, blob: str = "?") -> str:
        return f"{self.insert_sql(c, blob)} ON CONFLICT ({c.name}) DO NOTHING"


class PostgreSQLDialect(SQLiteDialect):
    vendor = "postgresql"
    blob_type = "BYTEA"
    read_part = Dialect.read_part
    # Each append rewrites the value so far on the server: fewer, larger parts
    # (measured: 100 MiB in 8 MiB parts 3.5 s, in 32 MiB parts 1.5 s).
    write_part = 16 * MiB
    zeroblob = None

    def folded(self, identifier: str) -> str:
        return identifier.lower()

    def substring(self, blob: str) -> str:
        return f"substring({blob} from ? for ?)"

    def length(self, blob: str) -> str:
        return f"octet_length({blob})"

    def append_expression(self, blob: str) -> str:
        return f"{blob} || ?"

    def create_table_sql(self, c: Columns, name_length: int = 255) -> list[str]:
        # EXTERNAL storage: no compression, so substring() reads only the
        # chunks it needs (PostgreSQL's documentation recommends it for this).
        return [
            *Dialect.create_table_sql(self, c, name_length),
            f"ALTER TABLE {c.table} ALTER COLUMN {c.blob} SET STORAGE EXTERNAL",
        ]


class MySQLDialect(Dialect):
    """MySQL and MariaDB."""

    vendor = "mysql"
    open_quote = close_quote = "`"
    # Every SUBSTRING makes InnoDB read the whole blob, so a full read costs
    # (size / part) whole-blob reads: measured for 100 MiB, 4 MiB parts 19.6 s,
    # 8 MiB 9.6 s, 16 MiB 6.1 s (+51 MiB RSS), 32 MiB 5.0 s (+99 MiB RSS).
    read_part = 16 * MiB
    #: A part must fit in one packet: capped below the server's limit.
    packet_sql = "SELECT @@max_allowed_packet"
    blob_type = "LONGBLOB"
    # A binary collation: names are case-sensitive, as on every other store.
    name_type = "VARCHAR({length}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"

    def substring(self, blob: str) -> str:
        return f"SUBSTRING({blob}, ?, ?)"

    def length(self, blob: str) -> str:
        return f"LENGTH({blob})"

    def append_expression(self, blob: str) -> str:
        return f"CONCAT({blob}, ?)"

    def upsert_sql(self, c: Columns, blob: str = "?") -> str:
        sets = [f"{c.blob} = VALUES({c.blob})", f"{c.size} = VALUES({c.size})"]
        if c.modified:
            sets.append(f"{c.modified} = VALUES({c.modified})")
        return f"{self.insert_sql(c, blob)} ON DUPLICATE KEY UPDATE {', '.join(sets)}"

    def create_table_sql(self, c: Columns, name_length: int = 255) -> list[str]:
        (create,) = super().create_table_sql(c, name_length)
        return [create + " ENGINE=InnoDB"]


class SQLServerDialect(Dialect):
    """Microsoft SQL Server (written to its documentation; not tested here)."""

    vendor = "microsoft"
    open_quote, close_quote = "[", "]"
    blob_type = "VARBINARY(MAX)"
    name_type = "NVARCHAR({length})"
    savepoint_sql = ("SAVE TRANSACTION {name}", "ROLLBACK TRANSACTION {name}", None)

    def substring(self, blob: str) -> str:
        return f"SUBSTRING({blob}, ?, ?)"

    def length(self, blob: str) -> str:
        return f"DATALENGTH({blob})"

    def append_expression(self, blob: str) -> str:
        return f"{blob} + ?"

    def create_table_sql(self, c: Columns, name_length: int = 255) -> list[str]:
        (create,) = super().create_table_sql(c, name_length)
        bare = create.replace("CREATE TABLE IF NOT EXISTS", "CREATE TABLE", 1)
        table = c.table.replace("'", "''")
        return [f"IF OBJECT_ID(N'{table}', N'U') IS NULL {bare}"]

    def drop_table_sql(self, c: Columns) -> list[str]:
        table = c.table.replace("'", "''")
        return [f"IF OBJECT_ID(N'{table}', N'U') IS NOT NULL DROP TABLE {c.table}"]


class OracleDialect(Dialect):
    """Oracle (written to its documentation; not tested here)."""

    vendor = "oracle"
    can_append = False  # BLOB || is not defined; a save is one INSERT of the whole value
    max_read = 32767  # DBMS_LOB.SUBSTR returns a RAW, at most 32767 bytes
    blob_type = "BLOB"
    name_type = "NVARCHAR2({length})"

    def folded(self, identifier: str) -> str:
        return identifier.upper()

    def substring(self, blob: str) -> str:
        # DBMS_LOB.SUBSTR takes (lob, amount, offset): swapped into our order.
        return f"DBMS_LOB.SUBSTR({blob}, ?, ?)"

    def read_params(self, offset: int, length: int, name: str) -> tuple:
        return (length, offset, name)

    def length(self, blob: str) -> str:
        return f"DBMS_LOB.GETLENGTH({blob})"

    def create_table_sql(self, c: Columns, name_length: int = 255) -> list[str]:
        columns = [
            f"{c.name} {self.name_type.format(length=int(name_length))} NOT NULL PRIMARY KEY",
            f"{c.blob} BLOB",
            f"{c.size} NUMBER(19) NOT NULL",
        ]
        if c.modified:
            columns.append(f"{c.modified} NUMBER(19) NOT NULL")
        return [f"CREATE TABLE {c.table} ({', '.join(columns)})"]

    def drop_table_sql(self, c: Columns) -> list[str]:
        return [f"DROP TABLE {c.table}"]


DIALECTS: dict[str, type[Dialect]] = {
    cls.vendor: cls
    for cls in (SQLiteDialect, PostgreSQLDialect, MySQLDialect, SQLServerDialect, OracleDialect)
}

# What ODBC drivers report as SQL_DBMS_NAME, lower-cased, mapped to a dialect.
DBMS_NAMES = {
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "microsoft sql server": "microsoft",
    "oracle": "oracle",
}


def find_column(present: list[str], column: str) -> str | None:
    """The name among a table's ``present`` columns that ``column`` means: the same, else
    the only one that differs in case (a table created without quotes), else None."""
    if column in present:
        return column
    matches = [name for name in present if name.lower() == column.lower()]
    return matches[0] if len(matches) == 1 else None


def dialect_for(vendor: str) -> Dialect:
    """The dialect for a Django vendor name or an ODBC DBMS name."""
    key = DBMS_NAMES.get(vendor.strip().lower(), vendor.strip().lower())
    try:
        return DIALECTS[key]()
    except KeyError:
        raise ImproperlyConfigured(
            f"DatabaseStorage does not know the SQL dialect of {vendor!r}; "
            f"set the 'dialect' option to one of {', '.join(sorted(DIALECTS))}."
        ) from None
