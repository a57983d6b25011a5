#!/usr/bin/env python3
"""Log in and seed patients for bench/run.sh (standard library only).

Usage: seed.py BASE_URL USERNAME COUNT IDS_FILE   (password in $BENCH_PASSWORD)

Prints the access token on stdout; writes the id of every created patient to
IDS_FILE, one per line, for wrk.lua. Progress and diagnostics go to stderr.
Seeding goes through the public API (not SQL) so the rows are exactly what the
server itself writes, whatever the schema looks like.
"""

import http.client
import json
import os
import sys
import time
import urllib.parse

FIRST_NAMES = ["Ada", "Grace", "Marie", "Rosalind", "Emmy", "Lise", "Dorothy", "Barbara"]
WARDS = ["ONC-1", "ONC-2", "ONC-3", "ONC-4"]  # the list scenario filters ONC-1: ~1/4 of rows


def request(conn, method, path, body=None, token=None):
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    raw = resp.read()
    try:
        payload = json.loads(raw) if raw else None
    except ValueError:
        payload = raw.decode(errors="replace")
    return resp.status, payload


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    base, username, count, ids_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    password = os.environ["BENCH_PASSWORD"]
    url = urllib.parse.urlsplit(base)
    # One keep-alive connection: seeding cost is then the server's, not TCP setup.
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)

    status, payload = request(conn, "POST", "/api/v1/auth/login", {"username": username, "password": password})
    if status != 200 or not isinstance(payload, dict) or "access_token" not in payload:
        sys.exit(f"login failed: HTTP {status}: {payload}")
    token = payload["access_token"]

    started = time.monotonic()
    with open(ids_file, "w") as out:
        for i in range(1, count + 1):
            body = {
                "mrn": f"BENCH-{i:06d}",
                "first_name": FIRST_NAMES[i % len(FIRST_NAMES)],
                "last_name": "Lovelace",
                "birth_date": f"19{40 + i % 50:02d}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                "sex": "female" if i % 2 else "male",
                "diagnosis": "Breast cancer",
                "icd10_code": "C50.9",
                "ward": WARDS[i % len(WARDS)],
                "bed": str(1 + i % 30),
                "phone": "+441632960123",
                "email": "ada@example.org",
                "preferred_contact": "sms",
            }
            status, payload = request(conn, "POST", "/api/v1/patients", body, token)
            if status != 201 or not isinstance(payload, dict) or "id" not in payload:
                sys.exit(f"creating patient {i} failed: HTTP {status}: {payload}")
            out.write(f"{payload['id']}\n")
    elapsed = time.monotonic() - started
    print(f"seeded {count} patients in {elapsed:.1f}s ({count / elapsed:.0f}/s)", file=sys.stderr)

    # Say how much the list scenario really selects: a filter that matches
    # nothing would measure an empty page, which is worth knowing.
    status, payload = request(conn, "GET", "/api/v1/patients?ward=ONC-1&status=admitted&limit=20", None, token)
    if isinstance(payload, dict):
        items = next((payload[k] for k in ("items", "data", "patients", "results") if isinstance(payload.get(k), list)), None)
    else:
        items = payload if isinstance(payload, list) else None
    shown = len(items) if items is not None else "?"
    print(f"list scenario: HTTP {status}, {shown} rows on the first page", file=sys.stderr)

    print(token)


if __name__ == "__main__":
    main()
