#!/usr/bin/env python3
"""Writes into msgmig's database through the OneDep application's own database layer
(`wwpdb.apps.msgmodule.db.PdbxMessageIo`), as the application does while msgmig keeps the
database in step with the files: a new message with a file reference and a status, and a status
flag changed on a message msgmig loaded. For the coexistence tests.

usage: app_write.py --db-name DB new-message DEPOSITION MESSAGE_ID
       app_write.py --db-name DB set-read DEPOSITION MESSAGE_ID Y|N
"""
import argparse
import io
import sys

from wwpdb.apps.msgmodule.db.PdbxMessageIo import PdbxMessageIo


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--db-host", default="127.0.0.1")
    p.add_argument("--db-port", type=int, default=3306)
    p.add_argument("--db-user", default="root")
    p.add_argument("--db-password", default="")
    p.add_argument("--db-name", required=True)
    p.add_argument("action", choices=["new-message", "set-read"])
    p.add_argument("deposition")
    p.add_argument("message_id")
    p.add_argument("value", nargs="?")
    a = p.parse_args()
    cfg = {"host": a.db_host, "port": a.db_port, "database": a.db_name, "username": a.db_user,
           "password": a.db_password, "charset": "utf8mb4"}
    path = f"/dummy/messaging/{a.deposition}/{a.deposition}_messages-to-depositor_P1.cif.V1"
    with PdbxMessageIo(site_id="MSGMIG_APP_WRITE", verbose=False, log=io.StringIO(), db_config=cfg) as io_:
        io_.read(path)
        if a.action == "new-message":
            io_.appendMessage({
                "message_id": a.message_id, "deposition_data_set_id": a.deposition,
                "timestamp": "2026-12-07 10:00:00", "sender": "annotator",
                "context_type": "other", "context_value": "", "parent_message_id": a.message_id,
                "message_subject": "Written by the application", "message_text": "Caf\u00e9 \U0001F9EC",
                "message_type": "text", "send_status": "Y",
            })
            io_.appendFileReference({
                "message_id": a.message_id, "content_type": "model-annotate", "content_format": "pdbx",
                "partition_number": 1, "version_id": 1, "storage_type": "archive", "upload_file_name": "",
            })
            io_.appendMsgReadStatus({"message_id": a.message_id, "read_status": "N", "action_reqd": "Y",
                                     "for_release": "N"})
        else:
            rows = io_.getMsgStatusInfo()
            i = next(i for i, r in enumerate(rows) if r["message_id"] == a.message_id)
            io_.update("pdbx_deposition_message_status", "read_status", a.value, i)
        if not io_.write(path):
            sys.exit("the application's write failed")


if __name__ == "__main__":
    main()
