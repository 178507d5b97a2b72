#!/usr/bin/env python3
"""The OneDep application as the judge of msgmig's database.

For every deposition folder of an archive, compares what the application's own readers return:
its file reader (PyPI `mmcif.utils`: `mmcif_utils.message.PdbxMessageIo`) on the folder's latest
message files, and its database reader (PyPI `wwpdb.apps.msgmodule`:
`wwpdb.apps.msgmodule.db.PdbxMessageIo`) on the database msgmig filled. Every field of every
message, in order; file references in order; statuses. Output: a JSON report on stdout (or
--report FILE); exit 0 when everything the app reads is equal, 1 when something differs, 3 when
the application's packages are missing.

What the comparison accounts for, each a rule msgmig documents (docs/domain.md, "What the
database holds"), counted under "documented" in the report:
  - timestamps: the file's text and the database's DATETIME are compared as the app parses
    them (its four formats, `db/PdbxMessageIo._parse_ts`);
  - parent_message_id: `?`/`.`, or an id in no file of the deposition, is NULL in the database
    (a foreign key cannot name a missing row);
  - integers: the file's text against the database's INT; `?` is the column default, 1;
  - a message whose id another folder owns (a conflict msgmig reports) is that folder's;
  - file references and statuses of a message in no file of the deposition are not stored;
  - a deposition msgmig quarantined is not compared (it is listed);
  - files the app's database dump wrote (no `#` comment line) have their subjects' and texts'
    `\\uXXXX` escapes decoded first, as the app's migrator (`unescape_non_ascii`) does;
  - the database reader is asked for the deposition id the file carries (it may differ from
    the folder's);
  - with --as-displayed, subjects and texts are compared as the application displays them
    (character references decoded, `html.unescape`): the files msgmig exports can only carry
    non-ASCII as references, while the database may hold it raw (rows the application wrote,
    or decoded from its dump).
"""
import argparse
import datetime
import glob
import html
import io
import json
import os
import re
import sys
import unicodedata

try:
    import pymysql
    from mmcif_utils.message.PdbxMessageIo import PdbxMessageIo as FileReader
    from wwpdb.apps.msgmodule.db.PdbxMessageIo import PdbxMessageIo as DbReader
except ImportError as e:
    sys.stderr.write(f"the OneDep application's packages are missing ({e}): scripts/app-oracle install\n")
    sys.exit(3)

CONTENT_TYPES = ["messages-from-depositor", "messages-to-depositor", "notes-from-annotator"]
LATEST = re.compile(r"^([DG]_[0-9]+)_(" + "|".join(CONTENT_TYPES) + r")_P([0-9]+)\.cif\.V([0-9]+)$")
MESSAGE_FIELDS = [
    "message_id", "deposition_data_set_id", "timestamp", "sender", "context_type", "context_value",
    "parent_message_id", "message_subject", "message_text", "message_type", "send_status",
]
REF_FIELDS = [
    "message_id", "deposition_data_set_id", "content_type", "content_format", "partition_number",
    "version_id", "storage_type", "upload_file_name",
]
STATUS_FIELDS = ["deposition_data_set_id", "read_status", "action_reqd", "for_release"]
NULLS = ("?", ".")


def message_key(message_id):
    """The id as the message_id column's collation (utf8mb4_unicode_ci) compares it."""
    s = unicodedata.normalize("NFKD", message_id.rstrip(" "))
    s = "".join(c for c in s if not unicodedata.combining(c))
    return s.lower().replace("ß", "ss")


def parse_ts(value):
    """The app's timestamp formats (db/PdbxMessageIo._parse_ts)."""
    if isinstance(value, datetime.datetime):
        return value
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%d-%b-%Y %H:%M:%S", "%d-%b-%Y"):
        try:
            return datetime.datetime.strptime(value, fmt)
        except (TypeError, ValueError):
            continue
    return value


def unescape_non_ascii(text):
    """The app migrator's decoding of its dump: \\uXXXX units, surrogate pairs joined."""
    units = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    return units.encode("utf-16", "surrogatepass").decode("utf-16")


def written_by_dump(path):
    in_text = False
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        return False
    for line in data.split(b"\n"):
        if line.startswith(b";"):
            in_text = not in_text
        elif line.startswith(b"#") and not in_text:
            return False
    return True


def latest_files(folder):
    best = {}
    for path in glob.glob(os.path.join(folder, "*")):
        m = LATEST.match(os.path.basename(path))
        if not m or not os.path.isfile(path) or os.path.islink(path):
            continue
        key = (m.group(2), int(m.group(3)))
        if key not in best or int(m.group(4)) > best[key][0]:
            best[key] = (int(m.group(4)), path)
    return [(ct, best[(ct, p)][1]) for (ct, p) in sorted(best, key=lambda k: (CONTENT_TYPES.index(k[0]), k[1]))]


def read_file(path):
    reader = FileReader(verbose=False, log=io.StringIO())
    if os.path.getsize(path) == 0 or not reader.read(path):
        return [], [], []
    return reader.getMessageInfo(), reader.getFileReferenceInfo(), reader.getMsgStatusInfo()


def as_int(value):
    if value in NULLS or value is None:
        return 1
    return int(value)


class Report:
    def __init__(self):
        self.fields = {}
        self.documented = {}
        self.differences = []
        self.depositions = 0
        self.compared = 0
        self.quarantined = []
        self.db_only = 0

    def field(self, name, equal):
        f = self.fields.setdefault(name, {"compared": 0, "equal": 0})
        f["compared"] += 1
        f["equal"] += int(equal)

    def rule(self, name, n=1):
        self.documented[name] = self.documented.get(name, 0) + n

    def differ(self, folder, what, file_value, db_value):
        self.differences.append({"deposition": folder, "what": what, "file": file_value, "database": db_value})


AS_DISPLAYED = False


def displayed(field, value):
    if AS_DISPLAYED and field in ("message_subject", "message_text") and isinstance(value, str):
        return html.unescape(value)
    return value


def compare_folder(folder, db_config, bookkeeping, report):
    name = os.path.basename(folder)
    files = latest_files(folder)
    if not files:
        return
    report.depositions += 1
    if bookkeeping["states"].get(name) == "quarantined":
        report.quarantined.append(name)
        return
    report.compared += 1
    owners = bookkeeping["owners"]
    parsed = []
    for content_type, path in files:
        msgs, refs, statuses = read_file(path)
        if written_by_dump(path):
            for m in msgs:
                for f in ("message_subject", "message_text"):
                    if isinstance(m.get(f), str):
                        m[f] = unescape_non_ascii(m[f])
            report.rule("dump escapes decoded (files)")
        parsed.append((content_type, path, msgs, refs, statuses))
    ids_in_files = {m["message_id"] for _, _, msgs, _, _ in parsed for m in msgs}
    mine = {i for i in ids_in_files if owners.get(message_key(i)) == name}
    for i in ids_in_files - mine:
        report.rule("message owned by another folder (conflict)")
    db_cache = {}

    def db_read(content_id, content_type):
        key = (content_id, content_type)
        if key not in db_cache:
            with DbReader(site_id="MSGMIG_APP_CHECK", verbose=False, log=io.StringIO(), db_config=db_config) as r:
                r.read(f"/dummy/messaging/{content_id}/{content_id}_{content_type}_P1.cif.V1", deposition_id=content_id)
                db_cache[key] = (r.getMessageInfo(), r.getFileReferenceInfo(), r.getMsgStatusInfo())
        return db_cache[key]

    file_refs, file_statuses, db_refs, db_statuses = [], {}, {}, {}
    for content_type, path, msgs, refs, statuses in parsed:
        expected = [m for m in msgs if m["message_id"] in mine]
        content_ids = sorted({m["deposition_data_set_id"] for m in expected})
        stored = []
        for cid in content_ids:
            got, got_refs, got_statuses = db_read(cid, content_type)
            stored.extend(got)
            for r in got_refs:
                db_refs.setdefault(r["ordinal_id"], r)
            for s in got_statuses:
                db_statuses[s["message_id"]] = s
        by_id = {m["message_id"]: m for m in stored}
        report.db_only += sum(1 for m in stored if m["message_id"] not in {e["message_id"] for e in expected})
        order_file = [m["message_id"] for m in expected]
        order_db = [m["message_id"] for m in sorted(stored, key=lambda m: m["ordinal_id"]) if m["message_id"] in set(order_file)]
        report.field("message order", order_file == order_db)
        if order_file != order_db:
            report.differ(name, f"{os.path.basename(path)}: message order", order_file, order_db)
        for m in expected:
            d = by_id.get(m["message_id"])
            if d is None:
                report.field("message present", False)
                report.differ(name, f"message {m['message_id']} missing", m["message_id"], None)
                continue
            report.field("message present", True)
            for f in MESSAGE_FIELDS:
                fv, dv = displayed(f, m.get(f)), displayed(f, d.get(f))
                if f == "timestamp":
                    fv, dv = parse_ts(fv), parse_ts(dv)
                elif f == "parent_message_id" and (fv in NULLS or fv not in ids_in_files):
                    report.rule("parent ? or outside the deposition stored as NULL")
                    fv = None
                equal = fv == dv
                report.field(f, equal)
                if not equal:
                    report.differ(name, f"message {m['message_id']} {f}", fv, dv)
            report.field("content_type", d.get("content_type") == content_type)
        for r in refs:
            if r["message_id"] not in ids_in_files:
                report.rule("file reference of a message in no file: not stored")
            elif r["message_id"] in mine:
                file_refs.append(r)
        for s in statuses:
            if s["message_id"] not in ids_in_files:
                report.rule("status of a message in no file: not stored")
            elif s["message_id"] in mine:
                file_statuses[s["message_id"]] = s
    # The database reader reads references and statuses by the deposition id they carry.
    for cid in sorted({r["deposition_data_set_id"] for r in file_refs} | {s["deposition_data_set_id"] for s in file_statuses.values()}):
        _, got_refs, got_statuses = db_read(cid, CONTENT_TYPES[1])
        for r in got_refs:
            db_refs.setdefault(r["ordinal_id"], r)
        for s in got_statuses:
            db_statuses[s["message_id"]] = s
    # File references: the deposition's, in file order, against the database's in stored order.
    ref_ids = {r["message_id"] for r in file_refs}
    stored_refs = [r for _, r in sorted(db_refs.items()) if r["message_id"] in ref_ids]
    norm = lambda r: tuple(as_int(r[f]) if f in ("partition_number", "version_id") else r[f] for f in REF_FIELDS)
    fr, dr = [norm(r) for r in file_refs], [norm(r) for r in stored_refs]
    report.field("file references (in order)", fr == dr)
    if fr != dr:
        report.differ(name, "file references", fr, dr)
    for mid, s in file_statuses.items():
        d = db_statuses.get(mid)
        equal = d is not None and all(s[f] == d[f] for f in STATUS_FIELDS)
        report.field("status", equal)
        if not equal:
            report.differ(name, f"status of {mid}", s, d)


def bookkeeping(conn):
    with conn.cursor() as c:
        c.execute("SELECT deposition_id, state FROM msgmig_depositions")
        states = dict(c.fetchall())
        c.execute("SELECT message_id, deposition_id FROM msgmig_message_provenance")
        owners = {message_key(m): d for m, d in c.fetchall()}
    return {"states": states, "owners": owners}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--archive", required=True)
    p.add_argument("--db-host", default="127.0.0.1")
    p.add_argument("--db-port", type=int, default=3306)
    p.add_argument("--db-user", default="root")
    p.add_argument("--db-password", default="")
    p.add_argument("--db-name", required=True)
    p.add_argument("--deposition", action="append", default=[])
    p.add_argument("--report")
    p.add_argument("--as-displayed", action="store_true",
                   help="compare subjects and texts as the application displays them (references decoded)")
    a = p.parse_args()
    global AS_DISPLAYED
    AS_DISPLAYED = a.as_displayed
    db_config = {"host": a.db_host, "port": a.db_port, "database": a.db_name, "username": a.db_user,
                 "password": a.db_password, "charset": "utf8mb4"}
    conn = pymysql.connect(host=a.db_host, port=a.db_port, user=a.db_user, password=a.db_password,
                           database=a.db_name, charset="utf8mb4")
    books = bookkeeping(conn)
    report = Report()
    folders = sorted(glob.glob(os.path.join(a.archive, "[DG]_*")))
    if a.deposition:
        folders = [f for f in folders if os.path.basename(f) in a.deposition]
    for folder in folders:
        if os.path.isdir(folder):
            compare_folder(folder, db_config, books, report)
    out = {
        "depositions": report.depositions,
        "compared": report.compared,
        "quarantined": report.quarantined,
        "equal": not report.differences,
        "fields": report.fields,
        "documented": report.documented,
        "rows_only_in_database": report.db_only,
        "differences": report.differences[:200],
    }
    text = json.dumps(out, indent=1, default=str, ensure_ascii=False)
    if a.report:
        with open(a.report, "w") as f:
            f.write(text)
    print(text)
    sys.exit(0 if not report.differences else 1)


if __name__ == "__main__":
    main()
