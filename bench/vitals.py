#!/usr/bin/env python3
"""Setup and timing for bench/vitals.sh (standard library only).

  vitals.py patients BASE USER COUNT WARD PREFIX IDS_FILE MRNS_FILE   -> prints a token
  vitals.py csv OUT MRNS_FILE DAYS HOURS_APART                          -> writes a CSV
  vitals.py batch OUT IDS_FILE RECORDS                                  -> writes a batch body
  vitals.py import BASE TOKEN CSV_FILE                                  -> prints a BENCH_RESULT line

The password is in $BENCH_PASSWORD. Observations are realistic and mostly normal, with a
deteriorating minority, so scoring, flags and alerts all do real work.
"""

import datetime
import http.client
import json
import os
import random
import sys
import time
import urllib.parse


def connect(base):
    url = urllib.parse.urlsplit(base)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=600)


def call(conn, method, path, body=None, token=None, content_type="application/json"):
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    raw = resp.read()
    return resp.status, (json.loads(raw) if raw else None)


def login(conn, user):
    status, body = call(conn, "POST", "/api/v1/auth/login",
                        {"username": user, "password": os.environ["BENCH_PASSWORD"]})
    if status != 200:
        sys.exit(f"login failed: {status} {body}")
    return body["access_token"]


def patients(base, user, count, ward, prefix, ids_file, mrns_file):
    conn = connect(base)
    token = login(conn, user)
    with open(ids_file, "w") as ids, open(mrns_file, "w") as mrns:
        for i in range(int(count)):
            mrn = f"{prefix}-{i:06d}"
            status, body = call(conn, "POST", "/api/v1/patients", {
                "mrn": mrn, "first_name": "Ada", "last_name": f"Patient{i}",
                "birth_date": "1958-04-02", "sex": "female", "diagnosis": "Acute myeloid leukaemia",
                "icd10_code": "C92.0", "ward": ward, "bed": str(i % 40 + 1)}, token)
            if status != 201:
                sys.exit(f"creating {mrn}: {status} {body}")
            ids.write(body["id"] + "\n")
            mrns.write(mrn + "\n")
    print(token)


def observation(rng):
    sick = rng.random() < 0.1
    return {
        "heart_rate": rng.randint(95, 140) if sick else rng.randint(58, 96),
        "systolic_bp": rng.randint(85, 105) if sick else rng.randint(105, 140),
        "diastolic_bp": rng.randint(50, 70),
        "respiratory_rate": rng.randint(20, 28) if sick else rng.randint(12, 19),
        "temperature_c": round(rng.uniform(37.8, 39.4) if sick else rng.uniform(36.2, 37.6), 1),
        "spo2": rng.randint(88, 94) if sick else rng.randint(95, 100),
        "on_oxygen": sick and rng.random() < 0.5,
        "consciousness": "alert",
    }


COLUMNS = ["mrn", "recorded_at", "heart_rate", "systolic_bp", "diastolic_bp", "respiratory_rate",
           "temperature_c", "spo2", "on_oxygen", "consciousness"]


def csv_file(out, mrns_file, days, hours_apart):
    rng = random.Random(42)
    mrns = [m.strip() for m in open(mrns_file) if m.strip()]
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    steps = int(float(days) * 24 / float(hours_apart))
    with open(out, "w") as f:
        f.write(",".join(COLUMNS) + "\n")
        # Time-major order, as a bedside system exports: every patient's set of one round.
        for step in range(steps, 0, -1):
            at = (now - datetime.timedelta(hours=float(hours_apart) * step)).isoformat().replace("+00:00", "Z")
            for mrn in mrns:
                o = observation(rng)
                f.write(",".join([mrn, at] + [str(o[c]).lower() if isinstance(o[c], bool) else str(o[c])
                                              for c in COLUMNS[2:]]) + "\n")


def batch(out, ids_file, records):
    rng = random.Random(7)
    ids = [i.strip() for i in open(ids_file) if i.strip()]
    body = {"records": [dict(observation(rng), patient_id=ids[n % len(ids)]) for n in range(int(records))]}
    with open(out, "w") as f:
        json.dump(body, f)


def rounds(out, ids_file, count, hours_apart):
    """`count` batch bodies, one per line: each a round of one set for every patient at its own
    time, `hours_apart` after the previous round's, the last one an hour ago."""
    rng = random.Random(11)
    ids = [i.strip() for i in open(ids_file) if i.strip()]
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    first = now - datetime.timedelta(hours=1 + float(hours_apart) * (int(count) - 1))
    with open(out, "w") as f:
        for k in range(int(count)):
            at = (first + datetime.timedelta(hours=float(hours_apart) * k)).isoformat().replace("+00:00", "Z")
            body = {"records": [dict(observation(rng), patient_id=i, recorded_at=at) for i in ids]}
            f.write(json.dumps(body, separators=(",", ":")) + "\n")


def import_csv(base, token, path):
    data = open(path, "rb").read()
    rows = data.count(b"\n") - 1
    conn = connect(base)
    started = time.monotonic()
    status, body = call(conn, "POST", "/api/v1/vital-signs/import", data, token, "text/csv")
    seconds = time.monotonic() - started
    if status not in (200, 201) or body.get("refused"):
        sys.exit(f"import failed: {status} {json.dumps(body)[:500]}")
    print(f"BENCH_RESULT rows={rows} seconds={seconds:.3f} rows_per_s={rows / seconds:.0f} "
          f"accepted={body['accepted']} alerts={body['alerts_raised']} mb={len(data) / 1e6:.1f}")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"patients": patients, "csv": csv_file, "batch": batch, "rounds": rounds,
     "import": import_csv}[cmd](*args)
