#!/usr/bin/env python3
"""Write a Graphviz DOT entity-relationship diagram of a SQLite database.

Usage: er_diagram.py DATABASE.db > er.dot

Reads only what SQLite itself reports (sqlite_master, PRAGMA table_info,
foreign_key_list, index_list, index_info), so the diagram shows the schema the
migrations really produce, not what the entities claim. Standard library only.
"""

import html
import sqlite3
import sys

# Internal tables that are not part of the domain model.
SKIP_TABLES = {"seaql_migrations"}

HEADER_BG = "#1f4e79"
PK_BG = "#fff2cc"
FK_BG = "#deebf7"


def esc(text):
    return html.escape(str(text), quote=True)


def q(name):
    """Quote an identifier for a PRAGMA argument."""
    return '"' + str(name).replace('"', '""') + '"'


def read_schema(conn):
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        if row[0] not in SKIP_TABLES
    ]
    schema = {}
    for table in tables:
        # cid, name, type, notnull, dflt_value, pk (1-based position in the key, 0 if not)
        columns = [
            {"name": r[1], "type": r[2] or "ANY", "notnull": bool(r[3]), "pk": r[5]}
            for r in conn.execute(f"PRAGMA table_info({q(table)})")
        ]

        # id, seq, table, from, to, on_update, on_delete, match; a composite key is
        # several rows sharing one id.
        fks = {}
        for r in conn.execute(f"PRAGMA foreign_key_list({q(table)})"):
            fk = fks.setdefault(r[0], {"table": r[2], "from": [], "to": [], "on_delete": r[6]})
            fk["from"].append(r[3])
            fk["to"].append(r[4])  # None means "the parent's primary key"
        schema[table] = {"columns": columns, "fks": list(fks.values()), "uniques": []}

        # seq, name, unique, origin (c = CREATE INDEX, u = UNIQUE constraint, pk), partial
        for r in conn.execute(f"PRAGMA index_list({q(table)})"):
            if not r[2] or r[3] == "pk":
                continue  # not unique, or just the primary key again
            cols = [c[2] for c in conn.execute(f"PRAGMA index_info({q(r[1])})")]
            if None in cols:
                cols = [c if c is not None else "<expr>" for c in cols]
            schema[table]["uniques"].append({"name": r[1], "columns": cols, "partial": bool(r[4])})

    # Resolve implicit FK targets (REFERENCES parent with no column list).
    for info in schema.values():
        for fk in info["fks"]:
            if any(t is None for t in fk["to"]):
                parent = schema.get(fk["table"], {"columns": []})
                pk = [c["name"] for c in sorted(parent["columns"], key=lambda c: c["pk"]) if c["pk"]]
                fk["to"] = pk or fk["to"]
    return schema


def port(side, column):
    """Port name of a column's left ("l") or right ("r") cell. With rankdir=LR a
    child table ranks left of its parent, so edges leave the child's right edge
    and enter the parent's left edge instead of crossing the row's text."""
    return side + "_" + "".join(ch if ch.isalnum() else "_" for ch in column)


def node(table, info):
    fk_cols = {c for fk in info["fks"] for c in fk["from"]}
    single_unique = {u["columns"][0] for u in info["uniques"] if len(u["columns"]) == 1}
    rows = [
        f'<TR><TD COLSPAN="3" BGCOLOR="{HEADER_BG}" ALIGN="CENTER">'
        f'<FONT COLOR="white"><B>{esc(table)}</B></FONT></TD></TR>'
    ]
    for col in info["columns"]:
        name = col["name"]
        marks = []
        if col["pk"]:
            marks.append("PK")
        if name in fk_cols:
            marks.append("FK")
        if name in single_unique:
            marks.append("UQ")
        bg = PK_BG if col["pk"] else FK_BG if name in fk_cols else "white"
        label = f"<B>{esc(name)}</B>" if col["pk"] else esc(name)
        nullability = "" if col["notnull"] or col["pk"] else " NULL"
        rows.append(
            f'<TR><TD BGCOLOR="{bg}" ALIGN="LEFT" PORT="{port("l", name)}">{esc(" ".join(marks))}</TD>'
            f'<TD BGCOLOR="{bg}" ALIGN="LEFT">{label}</TD>'
            f'<TD BGCOLOR="{bg}" ALIGN="LEFT" PORT="{port("r", name)}"><FONT COLOR="#555555">{esc(col["type"].lower())}{nullability}</FONT></TD></TR>'
        )
    # Multi-column unique constraints cannot be marked on one row: list them.
    for u in info["uniques"]:
        if len(u["columns"]) > 1:
            where = " (partial)" if u["partial"] else ""
            rows.append(
                f'<TR><TD COLSPAN="3" ALIGN="LEFT"><FONT POINT-SIZE="10">'
                f'UQ ({esc(", ".join(u["columns"]))}){where}</FONT></TD></TR>'
            )
    table_html = '<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">' + "".join(rows) + "</TABLE>"
    return f'  "{table}" [label=<{table_html}>];'


def to_dot(schema, title):
    out = [
        "digraph er {",
        "  graph [rankdir=LR, splines=true, nodesep=0.5, ranksep=1.2, pad=0.3,",
        f'         fontname="Helvetica", fontsize=18, labelloc=t, label=<{esc(title)}>];',
        '  node [shape=plaintext, fontname="Helvetica", fontsize=11];',
        # Crow's-foot-like reading: many (child) -> one (parent).
        '  edge [fontname="Helvetica", fontsize=9, color="#4a4a4a", arrowhead=tee, arrowtail=crow, dir=both];',
    ]
    for table, info in schema.items():
        out.append(node(table, info))
    for table, info in schema.items():
        for fk in info["fks"]:
            if fk["table"] not in schema:
                continue  # reference to a skipped/missing table
            label = ", ".join(fk["from"])
            if fk["on_delete"] and fk["on_delete"] != "NO ACTION":
                label += f"\\non delete {fk['on_delete'].lower()}"
            src = f'"{table}":{port("r", fk["from"][0])}:e'
            dst = f'"{fk["table"]}":{port("l", fk["to"][0])}:w' if fk["to"][0] else f'"{fk["table"]}"'
            out.append(f'  {src} -> {dst} [label="{label}"];')
    out.append("}")
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    # Read-only: never create an empty file by mistyping the path.
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    schema = read_schema(conn)
    if not schema:
        sys.exit(f"{path}: no tables (did the migrations run?)")
    n_fk = sum(len(t["fks"]) for t in schema.values())
    sys.stdout.write(to_dot(schema, f"oncology-registry schema: {len(schema)} tables, {n_fk} foreign keys"))


if __name__ == "__main__":
    main()
