"""Checks end to end that the BigQuery the tests use answers REST and the Storage APIs as they expect.

Run with the Python of the bq-client venv, after ensure_bqemulator (or with VP_BIGQUERY_URL pointing
at another BigQuery that takes anonymous credentials):

    source scripts/services.sh && ensure_bqemulator &&
    _vp_venv "${VP_VENV_DIR:-$HOME/.cache/vibe-piper/venvs}/bq-client" \\
      google-cloud-bigquery google-cloud-bigquery-storage pyarrow &&
    "${VP_VENV_DIR:-$HOME/.cache/vibe-piper/venvs}/bq-client/bin/python" scripts/bqemulator/check.py

It asserts on the values that come back through REST and the Storage Read API, and prints what it
finds out (Arrow types per column, streams, row restrictions, the Storage Write API, dry runs).
A failed assertion exits non-zero; a feature the emulator lacks is reported as "UNSUPPORTED: ...".
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
import traceback
import urllib.request
from datetime import date, datetime, time as dtime, timezone
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import grpc
import pyarrow as pa
import requests
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from google.cloud import bigquery_storage_v1 as bqs
from google.cloud.bigquery_storage_v1 import types as bqs_types
from google.cloud.bigquery_storage_v1.services.big_query_read.transports import BigQueryReadGrpcTransport
from google.cloud.bigquery_storage_v1.services.big_query_write.transports import BigQueryWriteGrpcTransport
from google.protobuf import descriptor_pb2

TABLE = "vp_check"
EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"

SCHEMA = [
    bigquery.SchemaField("id", "INT64", mode="REQUIRED"),
    bigquery.SchemaField("f", "FLOAT64"),
    bigquery.SchemaField("b", "BOOL"),
    bigquery.SchemaField("s", "STRING"),
    bigquery.SchemaField("by", "BYTES"),
    bigquery.SchemaField("n", "NUMERIC"),
    bigquery.SchemaField("bn", "BIGNUMERIC"),
    bigquery.SchemaField("d", "DATE"),
    bigquery.SchemaField("dt", "DATETIME"),
    bigquery.SchemaField("ts", "TIMESTAMP"),
    bigquery.SchemaField("t", "TIME"),
    bigquery.SchemaField("j", "JSON"),
    bigquery.SchemaField("arr", "INT64", mode="REPEATED"),
    bigquery.SchemaField(
        "st", "RECORD", fields=[bigquery.SchemaField("a", "INT64"), bigquery.SchemaField("b", "STRING")]
    ),
]
COLUMNS = [f.name for f in SCHEMA]

# Row 1 goes in by DML with named parameters, row 2 by DML with NULL parameters,
# rows 3 and 4 by insert_rows_json (values, then NULLs).
ROW1 = {
    "id": 1,
    "f": 1.5,
    "b": True,
    "s": "héllo",
    "by": b"\x00\x01\xff",
    "n": Decimal("12345.678901234"),
    "bn": Decimal("123456789012345678901234567890.12345678901234567890123456789"),
    "d": date(2024, 2, 29),
    "dt": datetime(2024, 2, 29, 13, 14, 15, 123456),
    "ts": datetime(2024, 2, 29, 13, 14, 15, 123456, tzinfo=timezone.utc),
    "t": dtime(13, 14, 15, 123456),
    "j": {"k": [1, 2], "x": "y"},
    "arr": [1, 2, 3],
    "st": {"a": 7, "b": "seven"},
}
ROW3 = {
    "id": 3,
    "f": -2.25,
    "b": False,
    "s": "json row",
    "by": b"bytes",
    "n": Decimal("-0.5"),
    "bn": Decimal("-1.25"),
    "d": date(1970, 1, 1),
    "dt": datetime(2000, 1, 2, 3, 4, 5),
    "ts": datetime(2000, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
    "t": dtime(0, 0, 1),
    "j": {"a": None},
    "arr": [],
    "st": {"a": None, "b": "x"},
}
NULLS = {c: None for c in COLUMNS if c != "id"} | {"arr": []}

findings: dict[str, object] = {}
unsupported: list[str] = []


def note(key: str, value: object) -> None:
    findings[key] = value
    print(f"{key}: {value}")


def attempt(what: str, fn):
    """Runs fn; on an error reports it as unsupported and returns None."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - the point is to report whatever the emulator answers
        msg = f"{what}: {type(e).__name__}: {e}"
        unsupported.append(msg)
        print("UNSUPPORTED: " + msg)
        return None


def endpoints() -> tuple[str, str, str, str]:
    """(project, dataset, REST endpoint, gRPC host:port) from VP_BIGQUERY_URL."""
    url = os.environ.get("VP_BIGQUERY_URL")
    if not url:
        sys.exit("VP_BIGQUERY_URL is not set: run ensure_bqemulator from scripts/services.sh first")
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    grpc_endpoint = urlsplit(query["grpc_endpoint"]).netloc
    return parts.hostname or "", parts.path.strip("/"), query["endpoint"], grpc_endpoint


def run(client: bigquery.Client, sql: str, cfg: bigquery.QueryJobConfig | None = None) -> bigquery.QueryJob:
    """A query job that fails at once on an error (the client would retry a 500 for minutes)."""
    return client.query(sql, job_config=cfg, retry=None, job_retry=None, timeout=30)


def json_row(row: dict) -> dict:
    """A row as insert_rows_json wants it."""
    out = {}
    for k, v in row.items():
        if v is None or k == "arr":
            out[k] = v
        elif k == "by":
            out[k] = base64.b64encode(v).decode()
        elif k in ("n", "bn"):
            out[k] = str(v)
        elif k == "j":
            out[k] = json.dumps(v)
        elif k == "ts":
            out[k] = v.isoformat()
        elif isinstance(v, (date, datetime, dtime)):
            out[k] = v.isoformat()
        else:
            out[k] = v
    return out


def normalise(col: str, v, json_as_text: bool):
    """A value read back, made comparable with the rows above."""
    if v is None:
        return None
    if col == "j" and json_as_text and isinstance(v, str):
        return json.loads(v)
    if col == "ts" and isinstance(v, datetime) and v.tzinfo is None:
        return v.replace(tzinfo=timezone.utc)
    if col in ("n", "bn") and not isinstance(v, Decimal):
        return Decimal(str(v))
    if col == "st" and isinstance(v, dict):
        return dict(v)
    if col == "arr" and v is not None:
        return list(v)
    return v


divergences: list[str] = []


def check_rows(source: str, rows: list[dict], expected: list[dict], json_as_text: bool = False) -> None:
    assert len(rows) == len(expected), f"{source}: {len(rows)} rows, expected {len(expected)}"
    for got, want in zip(rows, expected):
        for col in want:
            g, w = normalise(col, got.get(col), json_as_text), want[col]
            if col == "by" and w is not None and g == base64.b64encode(w):
                # bqemulator 1.4.0 keeps a BYTES query parameter as its base64 text
                msg = f"{source}: row id={want['id']} BYTES came back as its base64 text {g!r}, not {w!r}"
                if msg not in divergences:
                    divergences.append(msg)
                    print("DIVERGES: " + msg)
                continue
            if col == "arr" and w is None:
                w = []
            if col == "arr" and g is None:
                g = []
            assert g == w, f"{source}: row id={want['id']} column {col}: got {g!r}, expected {w!r}"
    print(f"{source}: {len(rows)} rows match")


def dml_insert(client: bigquery.Client, ds: str, row: dict) -> None:
    p = bigquery.ScalarQueryParameter
    params = [
        p("id", "INT64", row["id"]),
        p("f", "FLOAT64", row["f"]),
        p("b", "BOOL", row["b"]),
        p("s", "STRING", row["s"]),
        p("by", "BYTES", row["by"]),
        p("n", "NUMERIC", row["n"]),
        p("d", "DATE", row["d"]),
        p("dt", "DATETIME", row["dt"]),
        p("ts", "TIMESTAMP", row["ts"]),
        p("t", "TIME", row["t"]),
        p("j", "JSON", row["j"]),  # the client JSON-encodes it
        bigquery.ArrayQueryParameter("arr", "INT64", row["arr"]),
    ]
    if "bn" in COLUMNS:
        params.append(p("bn", "BIGNUMERIC", row["bn"]))
    params.sort(key=lambda q: COLUMNS.index(q.name))
    values = [f"@{c}" for c in COLUMNS]
    if row["st"] is None:
        # a struct parameter cannot itself be NULL, so write the NULL literal
        values[-1] = "CAST(NULL AS STRUCT<a INT64, b STRING>)"
    else:
        params.append(
            bigquery.StructQueryParameter("st", p("a", "INT64", row["st"]["a"]), p("b", "STRING", row["st"]["b"]))
        )
    cols = ", ".join(f"`{c}`" for c in COLUMNS)
    sql = f"INSERT INTO `{ds}.{TABLE}` ({cols}) VALUES ({', '.join(values)})"
    job = run(client, sql, bigquery.QueryJobConfig(query_parameters=params))
    job.result(retry=None, timeout=30)
    note(f"dml insert id={row['id']} num_dml_affected_rows", job.num_dml_affected_rows)
    return True


def drop_column(name: str) -> None:
    """Leaves column NAME out of the table and of the rows."""
    SCHEMA[:] = [f for f in SCHEMA if f.name != name]
    COLUMNS.remove(name)
    for row in (ROW1, ROW3, NULLS):
        row.pop(name, None)


def rest_part(client: bigquery.Client, project: str, ds: str, rest: str) -> list[dict]:
    client.create_dataset(bigquery.Dataset(f"{project}.{ds}"), exists_ok=True, retry=None, timeout=30)
    client.delete_table(f"{project}.{ds}.{TABLE}", not_found_ok=True, retry=None, timeout=30)
    # no retries: the client retries a 500 for minutes
    def create_full():
        client.create_table(bigquery.Table(f"{project}.{ds}.{TABLE}", schema=SCHEMA), retry=None, timeout=30)
        return True

    if not attempt("CREATE TABLE with a BIGNUMERIC column", create_full):
        drop_column("bn")
        # after an unhandled error the emulator resets the kept-alive connection, so the next call may see that
        try:
            client.create_table(bigquery.Table(f"{project}.{ds}.{TABLE}", schema=SCHEMA), retry=None, timeout=30)
        except requests.exceptions.ConnectionError as e:
            note("call after the 500 (connection reset)", f"{type(e).__name__}: {e}")
            client.create_table(bigquery.Table(f"{project}.{ds}.{TABLE}", schema=SCHEMA), retry=None, timeout=30)

    with urllib.request.urlopen(f"{rest}/bigquery/v2/projects/{project}/datasets/{ds}/tables/{TABLE}") as r:
        table_json = json.loads(r.read())
    findings["tables.get schema JSON"] = table_json.get("schema")
    print("tables.get schema JSON:", json.dumps(table_json.get("schema"), indent=1))

    expected: list[dict] = []
    row2 = NULLS | {"id": 2}
    if attempt("DML INSERT with named parameters", lambda: dml_insert(client, ds, ROW1)):
        expected.append(ROW1)
    if attempt("DML INSERT with NULL named parameters", lambda: dml_insert(client, ds, row2)):
        expected.append(row2)
    row4 = NULLS | {"id": 4}
    errors = client.insert_rows_json(f"{project}.{ds}.{TABLE}", [json_row(ROW3), json_row(row4)], retry=None, timeout=30)
    assert not errors, f"insert_rows_json: {errors}"
    expected += [ROW3, row4]

    rows = [dict(r.items()) for r in run(client, f"SELECT * FROM `{ds}.{TABLE}` ORDER BY id").result()]
    print("query rows:", rows)
    check_rows("REST query", rows, expected)
    listed = sorted((dict(r.items()) for r in client.list_rows(f"{project}.{ds}.{TABLE}", retry=None, timeout=30)), key=lambda r: r["id"])
    check_rows("REST list_rows", listed, expected)

    # query result schema as REST reports it
    job = run(client, f"SELECT * FROM `{ds}.{TABLE}` ORDER BY id")
    res = job.result()
    note("query result schema", [(f.name, f.field_type, f.mode) for f in res.schema])

    def dry():
        cfg = bigquery.QueryJobConfig(dry_run=True, use_query_cache=False)
        j = run(client, f"SELECT id, s FROM `{ds}.{TABLE}`", cfg)
        note("dry run total_bytes_processed", j.total_bytes_processed)
        note("dry run state", j.state)
        note("dry run schema", [(f.name, f.field_type) for f in (j.schema or [])])

    attempt("dry run", dry)
    return expected


def read_session(read_client, project: str, ds: str, fields, restriction, max_streams):
    opts = bqs_types.ReadSession.TableReadOptions(selected_fields=fields or [], row_restriction=restriction or "")
    session = read_client.create_read_session(
        parent=f"projects/{project}",
        read_session=bqs_types.ReadSession(
            table=f"projects/{project}/datasets/{ds}/tables/{TABLE}",
            data_format=bqs_types.DataFormat.ARROW,
            read_options=opts,
        ),
        max_stream_count=max_streams,
        timeout=30,
    )
    schema_bytes = session.arrow_schema.serialized_schema
    findings.setdefault("schema bytes end with EOS marker", schema_bytes.endswith(EOS))
    schema = pa.ipc.read_schema(pa.py_buffer(schema_bytes))
    batches = []
    for stream in session.streams:
        for resp in read_client.read_rows(stream.name, offset=0, timeout=30):
            raw = resp.arrow_record_batch.serialized_record_batch
            if not raw:
                continue
            try:
                batch = pa.ipc.read_record_batch(pa.py_buffer(raw), schema)
            except Exception:  # noqa: BLE001
                # maybe a whole IPC stream (schema + batch) rather than one message
                findings["record batch bytes are a whole IPC stream"] = True
                batch = pa.ipc.open_stream(pa.py_buffer(raw)).read_all().to_batches()[0]
            assert resp.row_count in (0, batch.num_rows), f"row_count {resp.row_count} != {batch.num_rows}"
            batches.append(batch)
    table = pa.Table.from_batches(batches, schema=schema) if batches else schema.empty_table()
    return session, schema, table


def storage_read_part(read_client, project: str, ds: str, expected: list[dict]) -> None:
    session, schema, table = read_session(read_client, project, ds, None, None, 1)
    note("read session streams (max_stream_count=1)", len(session.streams))
    note("Arrow types per column", {f.name: str(f.type) for f in schema})
    note("Arrow field metadata", {f.name: f.metadata for f in schema if f.metadata})
    rows = sorted(table.to_pylist(), key=lambda r: r["id"])
    print("storage rows:", rows)
    check_rows("Storage Read (all columns)", rows, expected, json_as_text=True)

    session, schema, table = read_session(read_client, project, ds, ["id", "s", "n"], "id > 2", 4)
    note("selected_fields honoured", schema.names)
    ids = sorted(table.column("id").to_pylist())
    note("row_restriction 'id > 2' gives ids", ids)
    note("row_restriction honoured", ids == [r["id"] for r in expected if r["id"] > 2])
    note("read session streams (max_stream_count=4)", len(session.streams))
    note("estimated_row_count", session.estimated_row_count)
    assert schema.names == ["id", "s", "n"], schema.names


def proto_descriptor() -> descriptor_pb2.DescriptorProto:
    d = descriptor_pb2.DescriptorProto(name="VpRow")
    d.field.add(name="id", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT64)
    d.field.add(name="s", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING)
    return d


def encode_proto_row(id_: int, s: str) -> bytes:
    from google.protobuf import descriptor_pool, message_factory

    pool = descriptor_pool.DescriptorPool()
    fd = descriptor_pb2.FileDescriptorProto(name="vp_row.proto", package="vp")
    fd.message_type.add().CopyFrom(proto_descriptor())
    pool.Add(fd)
    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName("vp.VpRow"))
    return cls(id=id_, s=s).SerializeToString()


def write_part(write_client, client, project: str, ds: str, kind: str, ids: list[int], table: str = TABLE) -> None:
    parent = f"projects/{project}/datasets/{ds}/tables/{table}"
    kind = f"{kind} into {table}"
    stream = write_client.create_write_stream(
        parent=parent, write_stream=bqs_types.WriteStream(type_=bqs_types.WriteStream.Type.PENDING),
        timeout=30,
    )
    note(f"write ({kind}) stream name", stream.name)
    if kind == "arrow":
        schema = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("s", pa.string())])
        batch = pa.record_batch([pa.array(ids, pa.int64()), pa.array([f"w{i}" for i in ids])], schema=schema)
        req = bqs_types.AppendRowsRequest(
            write_stream=stream.name,
            arrow_rows=bqs_types.AppendRowsRequest.ArrowData(
                writer_schema=bqs_types.ArrowSchema(serialized_schema=schema.serialize().to_pybytes()),
                rows=bqs_types.ArrowRecordBatch(serialized_record_batch=batch.serialize().to_pybytes()),
            ),
        )
    else:
        req = bqs_types.AppendRowsRequest(
            write_stream=stream.name,
            proto_rows=bqs_types.AppendRowsRequest.ProtoData(
                writer_schema=bqs_types.ProtoSchema(proto_descriptor=proto_descriptor()),
                rows=bqs_types.ProtoRows(serialized_rows=[encode_proto_row(i, f"w{i}") for i in ids]),
            ),
        )
    responses = list(write_client.append_rows(iter([req]), timeout=30))
    for r in responses:
        if r.error.code:
            raise RuntimeError(f"AppendRows error {r.error.code}: {r.error.message}")
        if r.row_errors:
            raise RuntimeError(f"AppendRows row errors: {list(r.row_errors)}")
    note(f"write ({kind}) append responses", [str(r.append_result.offset) for r in responses])
    before = [r["id"] for r in run(client, f"SELECT id FROM `{ds}.{table}` WHERE id IN UNNEST({ids})").result()]
    note(f"write ({kind}) rows visible before commit", before)
    fin = write_client.finalize_write_stream(name=stream.name, timeout=30)
    note(f"write ({kind}) finalize row_count", fin.row_count)
    commit = write_client.batch_commit_write_streams(
        bqs_types.BatchCommitWriteStreamsRequest(parent=parent, write_streams=[stream.name]), timeout=30
    )
    if commit.stream_errors:
        raise RuntimeError(f"BatchCommitWriteStreams errors: {list(commit.stream_errors)}")
    note(f"write ({kind}) commit_time", commit.commit_time)
    got = sorted(
        (r["id"], r["s"])
        for r in run(client, f"SELECT id, s FROM `{ds}.{table}` WHERE id IN UNNEST({ids})").result()
    )
    assert got == [(i, f"w{i}") for i in ids], f"write ({kind}): read back {got}"
    note(f"write ({kind}) committed rows read back", got)


def main() -> None:
    project, ds, rest, grpc_target = endpoints()
    print(f"project={project} dataset={ds} rest={rest} grpc={grpc_target}")
    client = bigquery.Client(
        project=project, credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=rest)
    )
    t = time.monotonic()
    expected = rest_part(client, project, ds, rest)
    read_client = bqs.BigQueryReadClient(transport=BigQueryReadGrpcTransport(channel=grpc.insecure_channel(grpc_target)))
    storage_read_part(read_client, project, ds, expected)
    write_client = bqs.BigQueryWriteClient(
        transport=BigQueryWriteGrpcTransport(channel=grpc.insecure_channel(grpc_target))
    )
    attempt("Storage Write API with Arrow rows", lambda: write_part(write_client, client, project, ds, "arrow", [10, 11]))
    attempt("Storage Write API with proto rows", lambda: write_part(write_client, client, project, ds, "proto", [20, 21]))
    # the same into a table of only the columns written
    simple = TABLE + "_write"
    client.delete_table(f"{project}.{ds}.{simple}", not_found_ok=True, retry=None, timeout=30)
    client.create_table(
        bigquery.Table(
            f"{project}.{ds}.{simple}",
            schema=[bigquery.SchemaField("id", "INT64", mode="REQUIRED"), bigquery.SchemaField("s", "STRING")],
        ),
        retry=None,
        timeout=30,
    )
    attempt(
        f"Storage Write API with Arrow rows into {simple}",
        lambda: write_part(write_client, client, project, ds, "arrow", [30, 31], simple),
    )
    attempt(
        f"Storage Write API with proto rows into {simple}",
        lambda: write_part(write_client, client, project, ds, "proto", [40, 41], simple),
    )
    for key in ("schema bytes end with EOS marker", "record batch bytes are a whole IPC stream"):
        note(key, findings.get(key, False))
    note("check seconds", round(time.monotonic() - t, 2))
    print("\nUNSUPPORTED summary:" if unsupported else "\nall features answered")
    for u in unsupported:
        print(" - " + u)
    print("DIVERGES summary:" if divergences else "no divergences")
    for d in divergences:
        print(" - " + d)


if __name__ == "__main__":
    try:
        main()
    except AssertionError:
        traceback.print_exc()
        sys.exit(1)
