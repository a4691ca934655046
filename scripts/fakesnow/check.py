"""Checks end to end that the Snowflake the tests use answers ADBC as they expect.

Run with the Python of the venv that ensure_adbc_snowflake makes, after ensure_fakesnow (or with
VP_SNOWFLAKE_URL pointing at another Snowflake):

    source scripts/services.sh && ensure_fakesnow && ensure_adbc_snowflake &&
    "${VP_VENV_DIR:-$HOME/.cache/vibe-piper/venvs}/adbc-snowflake/bin/python" scripts/fakesnow/check.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import parse_qs, unquote, urlsplit

import adbc_driver_snowflake.dbapi as snowflake
import pyarrow as pa
import pyarrow.parquet as pq

TABLE = "VP_CHECK"
COLUMNS = "i INT, n NUMBER(10,2), s VARCHAR, ts TIMESTAMP_NTZ, d DATE, b BOOLEAN"
NULL_ROW = (None, None, None, None, None, None)


def db_kwargs(url: str) -> dict[str, str]:
    """ADBC options for a snowflake://user:password@account/DB/SCHEMA?protocol=&host=&port= URL."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    db, _, schema = parts.path.strip("/").partition("/")
    kwargs = {
        "adbc.snowflake.sql.account": parts.hostname or "",
        "adbc.snowflake.sql.db": db,
        "adbc.snowflake.sql.schema": schema,
        "username": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "adbc.snowflake.sql.client_option.max_timestamp_precision": "microseconds",
    }
    for key in ("protocol", "host", "port"):
        if key in query:
            kwargs[f"adbc.snowflake.sql.uri.{key}"] = query[key]
    return kwargs


def connect(autocommit: bool = True) -> snowflake.Connection:
    return snowflake.connect(db_kwargs=db_kwargs(os.environ["VP_SNOWFLAKE_URL"]), autocommit=autocommit)


def rows(cur: snowflake.Cursor, sql: str) -> list[tuple]:
    cur.execute(sql)
    return cur.fetchall()


def expect(what: str, got: object, want: object) -> None:
    if got != want:
        sys.exit(f"check.py: {what}: got {got!r}, want {want!r}")
    print(f"ok: {what}")


def main() -> None:
    driver = os.environ.get("VP_SNOWFLAKE_DRIVER")
    if driver:
        expect("VP_SNOWFLAKE_DRIVER is a file", os.path.isfile(driver), True)

    with connect() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE OR REPLACE TABLE {TABLE} ({COLUMNS})")
        cur.execute(
            f"INSERT INTO {TABLE} VALUES (1, 1.5, 'a', '2024-01-02 03:04:05.123456', '2024-01-02', true),"
            " (NULL, NULL, NULL, NULL, NULL, NULL)"
        )
        # the driver binds ints, floats, strings, booleans and binaries, not Python's
        # Decimal, date or datetime: those go as strings
        cur.execute(
            f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?)",
            (2, "2.25", "b", "2024-05-06 07:08:09.000001", "2024-05-06", False),
        )
        # a bare None binds as Arrow's null type, which the driver refuses, so NULLs are bound typed
        nulls = pa.record_batch(
            [
                pa.array([None], pa.int64()),
                pa.array([None], pa.string()),
                pa.array([None], pa.string()),
                pa.array([None], pa.string()),
                pa.array([None], pa.string()),
                pa.array([None], pa.bool_()),
            ],
            names=["i", "n", "s", "ts", "d", "b"],
        )
        cur.execute(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?)", nulls)
        null_int = pa.record_batch([pa.array([None], pa.int64()), pa.array(["c"])], names=["i", "s"])
        cur.execute(f"INSERT INTO {TABLE} (i, s) VALUES (?, ?)", null_int)

        cur.execute(f"SELECT * FROM {TABLE} ORDER BY i NULLS LAST, s NULLS LAST")
        table = cur.fetch_arrow_table()
        expect("TIMESTAMP_NTZ arrives as microseconds", str(table.schema.field("TS").type), "timestamp[us]")
        expect(
            "values read back, NULLs as None",
            [tuple(r.values()) for r in table.to_pylist()],
            [
                (Decimal(1), Decimal("1.50"), "a", datetime(2024, 1, 2, 3, 4, 5, 123456), date(2024, 1, 2), True),
                (Decimal(2), Decimal("2.25"), "b", datetime(2024, 5, 6, 7, 8, 9, 1), date(2024, 5, 6), False),
                (None, None, "c", None, None, None),
                NULL_ROW,
                NULL_ROW,
            ],
        )
        cur.execute(f"SELECT s FROM {TABLE} WHERE i = ?", (2,))
        expect("a bound parameter filters", cur.fetchall(), [("b",)])

        cur.execute(f"CREATE OR REPLACE TABLE {TABLE}_TX (i INT)")
        with connect(autocommit=False) as tx, tx.cursor() as tx_cur:
            # the first statement after BEGIN + ALTER SESSION SET AUTOCOMMIT = FALSE is DML
            tx_cur.execute(f"INSERT INTO {TABLE}_TX VALUES (1)")
            count = f"SELECT COUNT(*) FROM {TABLE}_TX"
            expect("the transaction sees its own row", rows(tx_cur, count), [(1,)])
            expect("others don't see it yet", rows(cur, count), [(0,)])
            tx.rollback()
            expect("a rolled back transaction leaves no rows", rows(cur, count), [(0,)])
            tx_cur.execute(f"INSERT INTO {TABLE}_TX VALUES (2)")
            tx_cur.execute(f"INSERT INTO {TABLE}_TX VALUES (3)")
            tx.commit()
            expect("a committed transaction leaves its rows", rows(cur, f"SELECT i FROM {TABLE}_TX ORDER BY i"), [(2,), (3,)])

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "vp_check.parquet")
            pq.write_table(pa.table({"I": [10, None], "S": ["p", None], "B": [True, None]}), path)
            cur.execute(f"CREATE OR REPLACE TABLE {TABLE}_PUT ({COLUMNS})")
            cur.execute(f"PUT 'file://{path}' @%{TABLE}_PUT")
            cur.fetchall()
            cur.execute(
                f"COPY INTO {TABLE}_PUT FROM @%{TABLE}_PUT/vp_check.parquet"
                " FILE_FORMAT = (TYPE = PARQUET) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE"
            )
            cur.fetchall()
            expect(
                "PUT then COPY INTO loads the parquet file",
                rows(cur, f"SELECT i, s, b, ts FROM {TABLE}_PUT ORDER BY i NULLS LAST"),
                [(Decimal(10), "p", True, None), (None, None, None, None)],
            )

        data = pa.table({"I": pa.array([1, None], pa.int64()), "S": ["x", None]})
        expect("adbc_ingest creates and loads", cur.adbc_ingest(f"{TABLE}_INGEST", data, mode="replace"), 2)
        expect("adbc_ingest appends", cur.adbc_ingest(f"{TABLE}_INGEST", data, mode="append"), 2)
        expect(
            "ingested rows",
            rows(cur, f'SELECT "I", "S" FROM {TABLE}_INGEST ORDER BY "I" NULLS LAST, "S"'),
            [(Decimal(1), "x"), (Decimal(1), "x"), (None, None), (None, None)],
        )

    print("check.py: Snowflake answers as the tests expect")


if __name__ == "__main__":
    main()
