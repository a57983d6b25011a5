#!/usr/bin/env python3
"""The results inbox part of bench/exams.sh (standard library only).

  exams.py inbox BASE TECH_USER COUNT RESULTS_DIR   -> prints the inbox's throughput

Starts COUNT registered exams as the technician TECH_USER (password in $BENCH_PASSWORD),
mints a result token for each as the exam execution system does (HS256 with
$RESULT_TOKEN_SECRET, issuer $RESULT_TOKEN_ISSUER, signed by hand: PyJWT may be missing),
writes the result files beside the inbox, then renames them all into RESULTS_DIR/completed/
and times until every one is in processed/ (any in stuck/, denied/ or deleted/ is an error).
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import sys
import time
import urllib.parse


def connect(base):
    url = urllib.parse.urlsplit(base)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=600)


def call(conn, method, path, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    resp = conn.getresponse()
    raw = resp.read()
    return resp.status, (json.loads(raw) if raw else None)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def result_token(exam_id, secret, issuer):
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"iss": issuer, "exam_id": exam_id, "iat": now - 5, "exp": now + 3600,
              "result": {"status": "abnormal", "summary": "Neutropenia grade 2",
                         "values": {"anc": 1.2, "wbc": 2.8}}}
    signing_input = ".".join(b64url(json.dumps(p, separators=(",", ":")).encode())
                             for p in (header, claims))
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(signature)


def registered_exams(conn, token, count):
    ids, cursor = [], None
    while len(ids) < count:
        path = "/api/v1/exams?status=registered&limit=200" + (f"&cursor={cursor}" if cursor else "")
        status, body = call(conn, "GET", path, token=token)
        if status != 200:
            sys.exit(f"listing exams: {status} {body}")
        ids += [e["id"] for e in body["items"]]
        cursor = body.get("next_cursor")
        if not cursor:
            break
    if len(ids) < count:
        sys.exit(f"only {len(ids)} registered exams, {count} wanted")
    return ids[:count]


def count_files(folder):
    total = 0
    for _, _, files in os.walk(folder):
        total += len(files)
    return total


def inbox(base, user, count, results_dir):
    count = int(count)
    secret, issuer = os.environ["RESULT_TOKEN_SECRET"], os.environ["RESULT_TOKEN_ISSUER"]
    conn = connect(base)
    status, body = call(conn, "POST", "/api/v1/auth/login",
                        {"username": user, "password": os.environ["BENCH_PASSWORD"]})
    if status != 200:
        sys.exit(f"login failed: {status} {body}")
    token = body["access_token"]
    staging = os.path.join(results_dir, ".staging")
    os.makedirs(staging, exist_ok=True)
    names = []
    for i, exam_id in enumerate(registered_exams(conn, token, count)):
        status, body = call(conn, "POST", f"/api/v1/exams/{exam_id}/start",
                            {"exam_type": 1001}, token)
        if status != 200:
            sys.exit(f"starting {exam_id}: {status} {body}")
        name = f"bench-{i:06d}.json"
        with open(os.path.join(staging, name), "w") as f:
            json.dump({"exam_token": body["exam_token"],
                       "result_token": result_token(exam_id, secret, issuer)}, f)
        names.append(name)
    completed = os.path.join(results_dir, "completed")
    processed = os.path.join(results_dir, "processed")
    refused = [os.path.join(results_dir, d) for d in ("stuck", "denied", "deleted")]
    started = time.monotonic()
    for name in names:
        os.rename(os.path.join(staging, name), os.path.join(completed, name))
    deadline = started + 600
    while True:
        done = count_files(processed)
        bad = sum(count_files(d) for d in refused)
        if done + bad >= count:
            break
        if time.monotonic() > deadline:
            sys.exit(f"timed out: {done} processed, {bad} refused of {count}")
        time.sleep(0.02)
    secs = time.monotonic() - started
    print(f"inbox\t{count} files in {secs:.2f} s: {count / secs:.1f} files/s "
          f"({done} processed, {bad} refused)")
    if bad:
        sys.exit(f"{bad} files were refused: see stuck/, denied/, deleted/ and the inbox list")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "inbox":
        inbox(*args)
    else:
        sys.exit(__doc__)
