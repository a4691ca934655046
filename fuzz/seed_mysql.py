"""Writes the mysql_rows seed corpus: binary-protocol row packets as MariaDB sends them, in the
input layout of connector/mysql/fuzz.rs (width byte, (declared, wire) type picks, then rows,
each a one-byte length and the packet). Usage: python3 fuzz/seed_mysql.py"""
import os
import struct

OUT = os.path.join(os.path.dirname(__file__), "corpus", "mysql_rows")
# Indexes into fuzz.rs's specs() and defs().
SPEC = {"b": 0, "i1": 1, "i2": 2, "i4": 3, "i8": 4, "u1": 5, "u8": 6, "f4": 7, "f8": 8, "d": 9,
        "d38": 10, "s": 11, "by": 12, "dt": 13, "ts": 14, "tm": 15, "x": 16}
WIRE = {"tiny": 0, "utiny": 1, "short": 2, "long": 3, "longlong": 4, "ulonglong": 5, "float": 6,
        "double": 7, "newdecimal": 8, "varstring": 9, "blob": 10, "date": 11, "datetime": 12,
        "timestamp": 13, "time": 14, "year": 15, "null": 16}


def lenenc(b):
    return bytes([len(b)]) + b


def row(width, nulls, values):
    bitmap = bytearray((width + 7 + 2) // 8)
    for i in nulls:
        bitmap[(i + 2) // 8] |= 1 << ((i + 2) % 8)
    return b"\x00" + bytes(bitmap) + b"".join(values)


def seed(name, columns, rows):
    data = bytes([len(columns) - 1])
    for spec, wire in columns:
        data += bytes([SPEC[spec], WIRE[wire]])
    for r in rows:
        data += bytes([len(r)]) + r
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


os.makedirs(OUT, exist_ok=True)
seed("ints", [("i4", "long"), ("u8", "ulonglong"), ("i1", "tiny")], [
    row(3, [], [struct.pack("<i", -5), struct.pack("<Q", 2**64 - 1), struct.pack("<b", -128)]),
    row(3, [0, 1, 2], []),
])
seed("decimal_text", [("d", "newdecimal"), ("s", "varstring"), ("by", "blob")], [
    row(3, [], [lenenc(b"-12.50"), lenenc("héllo".encode()), lenenc(b"\x00\xff")]),
    row(3, [1], [lenenc(b"99999999999.99"), lenenc(b"")]),
])
seed("dates", [("dt", "date"), ("ts", "datetime"), ("tm", "time")], [
    row(3, [], [b"\x04" + struct.pack("<HBB", 2024, 2, 29),
                b"\x0b" + struct.pack("<HBBBBBI", 2024, 2, 29, 23, 59, 59, 500000),
                b"\x0c" + struct.pack("<BIBBBI", 1, 34, 22, 59, 59, 999999)]),
    row(3, [0, 1], [b"\x00"]),
    row(3, [], [b"\x04" + struct.pack("<HBB", 1000, 1, 1), b"\x07" + struct.pack("<HBBBBB", 1000, 1, 1, 0, 0, 0),
                b"\x08" + struct.pack("<BIBBB", 0, 0, 1, 2, 3)]),
])
seed("floats", [("f4", "float"), ("f8", "double"), ("b", "tiny")], [
    row(3, [], [struct.pack("<f", 1.5), struct.pack("<d", -0.0), b"\x01"]),
])
seed("text_read", [("x", "varstring"), ("d38", "newdecimal")], [
    row(2, [], [lenenc(b"9223372036854775807"), lenenc(b"1234567890123456789012345678.0123456789")]),
])
seed("year_null", [("i2", "year"), ("s", "null")], [row(2, [1], [struct.pack("<H", 2155)])])
# A zero date read natively: an error naming the column.
seed("zero_date", [("dt", "date")], [row(1, [], [b"\x04" + struct.pack("<HBB", 0, 0, 0)])])
