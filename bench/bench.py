#!/usr/bin/env python3
"""keydesk benchmarks: verification throughput/latency (A), the key list on
a tenant with 100,000 keys (B), the console on it (C), and the incident
benchmarks of issue 7: the cost of usage history on verification (D), revoke
keypress to the first failing verification (E), lookup by secret on 100,000
keys (F) and the event stream to 50 consoles under 100 mutations a second (G).

Run it through bench/run.sh, which installs wrk and builds the release
binaries first. This script:

1. starts `target/release/keydesk serve` on a free loopback port with a
   temporary data directory, a known bootstrap token and a known pepper;
2. creates a tenant (api_keys_enabled) and four users over the HTTP API;
3. runs `target/release/examples/bench_seed` to bulk-load the keys straight
   into the server's SQLite database, and to write the secrets of a few
   valid keys;
4. A: runs wrk against GET /healthz and POST /v1/verify at each concurrency,
   interleaved, and checks the server's own verify counters (/metrics) to
   make sure the load really was answered VALID (or NOT_FOUND for the
   malformed-key run);
5. B: requests list pages over one keep-alive connection and reads the
   `server-timing: app;dur=<ms>` header of each answer, plus the time the
   client saw;
6. C: runs examples/console_bench against the same server;
7. D: starts two more servers, one with `--usage-history on` and one with
   `--usage-history off`, seeds each, and runs the same wrk load against
   them in interleaved rounds (the order flips every round);
8. E, F, G: runs examples/incident_bench (revoke, lookup, stream) against
   the first server;
9. prints the summary tables, writes them as JSON under target/bench/, and
   stops the servers.

`--only usage,revoke,lookup,stream` (or `--only incident`, the same four)
runs just those; see --help for every option.

Only the Python standard library is used. Every request goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import http.client
import json
import math
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_BIN = ROOT / "target" / "release" / "keydesk"
SEED_BIN = ROOT / "target" / "release" / "examples" / "bench_seed"
INCIDENT_BIN = ROOT / "target" / "release" / "examples" / "incident_bench"
WRK_LUA = ROOT / "bench" / "wrk.lua"
TENANT = "bench"

# Targets from the issue.
TARGET_VERIFY_RATIO = 0.7  # verify throughput / healthz throughput
TARGET_VERIFY_P99_MS = 2.0  # at 32 connections
TARGET_VERIFY_P99_CONNS = 32
TARGET_FIRST_PAGE_MS = 20.0  # server-side
TARGET_SEARCH_MS = 50.0  # server-side
TARGET_USAGE_DROP = 0.05  # verify throughput with usage history on may fall at most 5 % below off

# Benchmarks by name (--only): A-C as before, D-G from issue 7.
BENCHMARKS = ("verify", "lists", "console", "usage", "revoke", "lookup", "stream")
INCIDENT = ("usage", "revoke", "lookup", "stream")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """A keep-alive HTTP/1.1 client for 127.0.0.1:port."""

    def __init__(self, port: int, token: str | None = None):
        self.port = port
        self.token = token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method: str, path: str, body: object | None = None):
        headers = {}
        data = None
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            try:
                started = time.perf_counter()
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                raw = response.read()
                elapsed_ms = (time.perf_counter() - started) * 1000.0
                break
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt:
                    raise
        timing = response.getheader("server-timing") or ""
        match = re.search(r"dur=([0-9.]+)", timing)
        server_ms = float(match.group(1)) if match else float("nan")
        payload = None
        if raw:
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = raw.decode(errors="replace")
        return response.status, payload, server_ms, elapsed_ms

    def ok(self, method: str, path: str, body: object | None = None, expect=(200, 201)):
        status, payload, _, _ = self.request(method, path, body)
        if status not in expect:
            raise RuntimeError(f"{method} {path} answered {status}: {payload}")
        return payload


class Server:
    def __init__(self, workdir: Path, port: int, token: str, pepper: str, extra: tuple = ()):
        self.workdir = workdir
        self.port = port
        self.log_path = workdir / "server.log"
        env = dict(os.environ)
        env.update(
            KEYDESK_BOOTSTRAP_TOKEN=token,
            KEYDESK_PEPPER=pepper,
            KEYDESK_LOG=os.environ.get("KEYDESK_LOG", "warn"),
            # B reads the server's own time from Server-Timing (off by default).
            KEYDESK_SERVER_TIMING="true",
        )
        for var in (
            "KEYDESK_DATABASE",
            "KEYDESK_PEPPER_FILE",
            "KEYDESK_LISTEN",
            "KEYDESK_DATA_DIR",
            "KEYDESK_USAGE_HISTORY",
        ):
            env.pop(var, None)
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [
                str(SERVER_BIN),
                "serve",
                "--listen",
                f"127.0.0.1:{port}",
                "--data-dir",
                str(workdir),
                *extra,
            ],
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log(f"server pid {self.proc.pid} on 127.0.0.1:{port}, data in {workdir} {' '.join(extra)}".rstrip())

    def wait_ready(self, seconds: float = 30.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log_path}")
            try:
                status, _, _, _ = Client(self.port).request("GET", "/healthz")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not answer /healthz in time")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()
        log(f"server stopped (exit {self.proc.returncode})")


# --------------------------------------------------------------- setup


def create_tenant_and_users(admin: Client) -> list[dict]:
    admin.ok(
        "POST",
        "/v1/tenants",
        {"id": TENANT, "name": "Benchmark Inc.", "settings": {"api_keys_enabled": True}},
    )
    users = []
    for name, roles in (
        ("ana", ["developer", "tenant_admin"]),
        ("bo", ["developer"]),
        ("chen", ["developer"]),
        ("dara", ["developer"]),
    ):
        created = admin.ok(
            "POST",
            f"/v1/tenants/{TENANT}/users",
            {"name": name, "email": f"{name}@bench.example", "roles": roles, "licensed": True},
        )
        users.append(created["user"])
    return users


def seed(workdir: Path, pepper: str, count: int, valid: int) -> tuple[dict, list[str]]:
    secrets_path = workdir / "secrets.txt"
    env = dict(os.environ, KEYDESK_PEPPER=pepper)
    started = time.monotonic()
    out = subprocess.run(
        [
            str(SEED_BIN),
            "--database",
            str(workdir / "keydesk.db"),
            "--tenant",
            TENANT,
            "--count",
            str(count),
            "--valid",
            str(valid),
            "--secrets-out",
            str(secrets_path),
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    summary["wall_s"] = round(time.monotonic() - started, 2)
    keys = [line for line in secrets_path.read_text().splitlines() if line]
    return summary, keys


BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def made_up_key(prefix: str) -> str:
    """A well-formed secret (valid checksum) that no key holds: it passes
    the parser, so only the index of digests keeps it from the database."""
    import secrets as _secrets
    import zlib

    body = prefix + "_" + "".join(_secrets.choice(BASE62) for _ in range(32))
    value = zlib.crc32(body.encode())
    digits = []
    for _ in range(6):
        digits.append(BASE62[value % 62])
        value //= 62
    return body + "".join(reversed(digits))


def malformed_key(valid: str) -> str:
    """Same shape as a real secret but with a wrong checksum: rejected before the store."""
    last = valid[-1]
    return valid[:-1] + ("A" if last != "A" else "B")


def verify_counters(client: Client) -> dict[str, int]:
    status, text, _, _ = client.request("GET", "/metrics")
    counts = {}
    if status == 200 and isinstance(text, str):
        for m in re.finditer(r'keydesk_verifications_total\{code="([A-Z_]+)"\} (\d+)', text):
            counts[m.group(1)] = int(m.group(2))
    return counts


# --------------------------------------------------------------- A: wrk


class CpuMeter:
    """CPU time of the whole machine, of the server process and of our
    children (wrk), so each run can say how busy the machine was with
    *other* work (another build, say): the figures of a disturbed run are
    not comparable."""

    def __init__(self, server_pid: int):
        self.server_pid = server_pid
        self.tick = os.sysconf("SC_CLK_TCK")

    def sample(self) -> dict:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal: process time is
        # user+nice+system; loopback TCP work done in interrupt context
        # (softirq) is caused by the benchmark itself but is attributed to
        # no process, so it is kept apart from "other load".
        idle = fields[3] + fields[4]
        irq = fields[5] + fields[6]
        total = sum(fields[:8])  # guest time is already counted in user
        try:
            with open(f"/proc/{self.server_pid}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            server = int(parts[11]) + int(parts[12])  # utime + stime
        except OSError:
            server = 0
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {
            "t": time.monotonic(),
            "busy": total - idle - irq,
            "irq": irq,
            "total": total,
            "server": server,
            "children_s": children.ru_utime + children.ru_stime,
        }

    def between(self, a: dict, b: dict) -> dict:
        """Cores used over the interval: machine, server, wrk, and the rest."""
        wall = max(b["t"] - a["t"], 1e-6)
        ncpu = os.cpu_count() or 1
        total = max(b["total"] - a["total"], 1)
        machine = (b["busy"] - a["busy"]) / total * ncpu
        irq = (b["irq"] - a["irq"]) / total * ncpu
        server_s = (b["server"] - a["server"]) / self.tick
        wrk_s = b["children_s"] - a["children_s"]
        server = server_s / wall
        wrk = wrk_s / wall
        return {
            "machine_cores": round(machine, 2),
            "irq_cores": round(irq, 2),
            "server_cores": round(server, 2),
            "wrk_cores": round(wrk, 2),
            "other_cores": round(max(0.0, machine - server - wrk), 2),
            "server_cpu_s": server_s,
        }

    def wait_quiet(self, limit_cores: float, max_wait: float) -> float:
        """Waits (up to max_wait s) until other work uses less than
        limit_cores; returns the load it last saw."""
        deadline = time.monotonic() + max_wait
        while True:
            a = self.sample()
            time.sleep(2.0)
            other = self.between(a, self.sample())["other_cores"]
            if other < limit_cores or time.monotonic() >= deadline:
                return other
            log(f"machine busy with other work ({other:.2f} cores); waiting for it to settle")


def run_wrk(port: int, path: str, conns: int, seconds: int, threads: int, env_extra: dict) -> dict:
    threads = max(1, min(threads, conns))
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{conns}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(WRK_LUA),
        f"http://127.0.0.1:{port}{path}",
    ]
    env = dict(os.environ)
    for var in ("KEYDESK_BENCH_BODY", "KEYDESK_BENCH_KEYS_FILE"):
        env.pop(var, None)
    env.update(env_extra)
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    line = next((l for l in out.stdout.splitlines() if l.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out.stdout}\n{out.stderr}")
    result = json.loads(line[len("WRK_JSON ") :])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["threads"] = threads
    result["connections"] = conns
    result["errors"] = sum(
        result[k]
        for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return result


def median(values: list) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def bench_verify(port: int, valid_keys: list[str], keys_file: Path, meter: CpuMeter, args) -> dict:
    probe = Client(port)
    valid_body = json.dumps({"key": valid_keys[0]})
    bad_body = json.dumps({"key": malformed_key(valid_keys[0])})

    # Sanity: the seeded secret verifies, the malformed one is NOT_FOUND.
    status, answer, _, _ = probe.request("POST", "/v1/verify", {"key": valid_keys[0]})
    if status != 200 or not answer.get("valid"):
        raise RuntimeError(f"the seeded secret does not verify: {status} {answer}")
    status, answer, _, _ = probe.request("POST", "/v1/verify", {"key": malformed_key(valid_keys[0])})
    if status != 200 or answer.get("code") != "NOT_FOUND":
        raise RuntimeError(f"the malformed secret was not NOT_FOUND: {status} {answer}")

    log("warm-up: 2 s of each endpoint at 32 connections")
    run_wrk(port, "/healthz", 32, 2, args.threads, {})
    run_wrk(port, "/v1/verify", 32, 2, args.threads, {"KEYDESK_BENCH_KEYS_FILE": str(keys_file)})

    runs = []

    def one(round_no: int, label: str, path: str, conns: int, env_extra: dict, expect_code: str | None):
        before = verify_counters(probe)
        cpu_before = meter.sample()
        result = run_wrk(port, path, conns, args.duration, args.threads, env_extra)
        cpu = meter.between(cpu_before, meter.sample())
        after = verify_counters(probe)
        delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        result.update(label=label, round=round_no, cpu=cpu)
        result["server_cpu_us_per_req"] = cpu["server_cpu_s"] * 1e6 / max(result["requests"], 1)
        result["verify_codes"] = {k: v for k, v in delta.items() if v}
        if expect_code is not None:
            answered = sum(delta.values())
            result["wrong_codes"] = answered - delta.get(expect_code, 0)
            if result["wrong_codes"] or answered < result["requests"]:
                log(f"WARNING {label}: {delta} for {result['requests']} requests")
        log(
            f"round {round_no} {label:<17} c={conns:<3} {result['rps']:>8.0f} req/s  "
            f"p50 {result['p50_us'] / 1000:.3f} p99 {result['p99_us'] / 1000:.3f} ms  "
            f"server {result['server_cpu_us_per_req']:.1f} us CPU/req  "
            f"other load {cpu['other_cores']:.2f} cores"
        )
        runs.append(result)

    def group(round_no: int, conns: int, items: list) -> None:
        """Runs items back to back; repeats them all (up to --retries times)
        when other processes used more than --quiet-cores during any of them."""
        for attempt in range(1, args.retries + 2):
            first = len(runs)
            for label, path, env_extra, expect in items:
                one(round_no, label, path, conns, env_extra, expect)
            disturbed = any(r["cpu"]["other_cores"] > args.quiet_cores for r in runs[first:])
            if not disturbed or attempt > args.retries:
                for r in runs[first:]:
                    r["attempt"] = attempt
                    r["disturbed"] = disturbed
                return
            log("other work ran during that; waiting for quiet and repeating it")
            del runs[first:]
            meter.wait_quiet(args.quiet_cores, args.quiet_wait)

    healthz_run = ("healthz", "/healthz", {}, None)
    extra = args.extra_connections
    # A flood of distinct made-up keys: each misses the cache; the index of
    # digests answers it without a database read (issue 10 point 4).
    made_up_file = keys_file.with_name("made-up.txt")
    prefix = valid_keys[0].rsplit("_", 1)[0]
    made_up_file.write_text("\n".join(made_up_key(prefix) for _ in range(50_000)) + "\n")
    status, answer, _, _ = probe.request("POST", "/v1/verify", {"key": made_up_key(prefix)})
    if status != 200 or answer.get("code") != "NOT_FOUND":
        raise RuntimeError(f"a made-up secret was not NOT_FOUND: {status} {answer}")
    for round_no in range(1, args.rounds + 1):
        other = meter.wait_quiet(args.quiet_cores, args.quiet_wait)
        log(f"round {round_no}/{args.rounds} (other load before it: {other:.2f} cores)")
        for conns in args.connections:
            group(round_no, conns, [healthz_run, ("verify", "/v1/verify", {"KEYDESK_BENCH_BODY": valid_body}, "VALID")])
        group(
            round_no,
            extra,
            ([] if extra in args.connections else [healthz_run])
            + [
                ("verify-100-keys", "/v1/verify", {"KEYDESK_BENCH_KEYS_FILE": str(keys_file)}, "VALID"),
                ("verify-malformed", "/v1/verify", {"KEYDESK_BENCH_BODY": bad_body}, "NOT_FOUND"),
                ("verify-made-up", "/v1/verify", {"KEYDESK_BENCH_KEYS_FILE": str(made_up_file)}, "NOT_FOUND"),
            ],
        )

    # One row per (run, connections): medians over the rounds. The ratio is
    # the median of per-round ratios to the healthz run at the same
    # concurrency in the same round, so slow drift of the machine cancels.
    healthz = {(r["round"], r["connections"]): r for r in runs if r["label"] == "healthz"}
    for r in runs:
        base = healthz.get((r["round"], r["connections"]))
        r["ratio_to_healthz"] = r["rps"] / base["rps"] if base else None
        r["cpu_ratio_to_healthz"] = (
            r["server_cpu_us_per_req"] / base["server_cpu_us_per_req"]
            if base and base["server_cpu_us_per_req"] > 0
            else None
        )
    order = []
    for r in runs:
        key = (r["label"], r["connections"])
        if key not in order:
            order.append(key)
    rows = []
    for label, conns in order:
        group = [r for r in runs if r["label"] == label and r["connections"] == conns]
        codes: dict[str, int] = {}
        for r in group:
            for k, v in r["verify_codes"].items():
                codes[k] = codes.get(k, 0) + v
        rows.append(
            {
                "label": label,
                "connections": conns,
                "rounds": len(group),
                "rps": median([r["rps"] for r in group]),
                "rps_min": min(r["rps"] for r in group),
                "rps_max": max(r["rps"] for r in group),
                "ratio_to_healthz": median([r["ratio_to_healthz"] for r in group]),
                "cpu_us_per_req": median([r["server_cpu_us_per_req"] for r in group]),
                "cpu_ratio_to_healthz": median([r["cpu_ratio_to_healthz"] for r in group]),
                "p50_us": median([r["p50_us"] for r in group]),
                "p90_us": median([r["p90_us"] for r in group]),
                "p99_us": median([r["p99_us"] for r in group]),
                "p99_us_worst": max(r["p99_us"] for r in group),
                "max_us": max(r["max_us"] for r in group),
                "errors": sum(r["errors"] for r in group),
                "other_cores_max": max(r["cpu"]["other_cores"] for r in group),
                "disturbed_rounds": sum(1 for r in group if r.get("disturbed")),
                "verify_codes": codes,
            }
        )
    return {"rows": rows, "runs": runs}


# --------------------------------------------------------------- B: lists


def cursor_value(cursor: str) -> dict:
    padded = cursor + "=" * (-len(cursor) % 4)
    return json.loads(base64.urlsafe_b64decode(padded))


def bench_lists(port: int, token: str, total_keys: int, args) -> dict:
    client = Client(port, token)
    base = f"/v1/tenants/{TENANT}/keys"

    # Find a cursor deep into the default (status) order by walking with big pages.
    depth = min(args.deep_offset, max(0, total_keys - 100))
    cursor = None
    walked = 0
    walk_started = time.perf_counter()
    while walked < depth:
        step = min(1000, depth - walked)
        path = f"{base}?limit={step}" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        page = client.ok("GET", path)
        walked += len(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    walk_s = time.perf_counter() - walk_started
    log(f"walked {walked} keys in {walk_s:.1f} s to find a deep cursor")

    # Same walk for sort=name, a shorter one (the name sort is the slow one).
    name_cursor = None
    name_walked = 0
    while name_walked < depth:
        step = min(1000, depth - name_walked)
        path = f"{base}?sort=name&limit={step}" + (
            f"&cursor={urllib.parse.quote(name_cursor)}" if name_cursor else ""
        )
        page = client.ok("GET", path)
        name_walked += len(page["items"])
        name_cursor = page["next_cursor"]
        if not name_cursor:
            break

    scenarios = [
        ("first page (default sort: status)", f"{base}?limit=50", TARGET_FIRST_PAGE_MS),
        ("search q=billing (~1/16 match)", f"{base}?q=billing&limit=50", TARGET_SEARCH_MS),
        ("search q=sync-0421 (rare)", f"{base}?q=sync-0421&limit=50", TARGET_SEARCH_MS),
        ("search q=no-such-key (no match)", f"{base}?q=no-such-key&limit=50", TARGET_SEARCH_MS),
        (
            f"deep page (cursor at {walked})",
            f"{base}?limit=50&cursor={urllib.parse.quote(cursor)}" if cursor else None,
            None,
        ),
        ("sort=name, first page", f"{base}?sort=name&limit=50", None),
        (
            f"sort=name, deep page (cursor at {name_walked})",
            f"{base}?sort=name&limit=50&cursor={urllib.parse.quote(name_cursor)}"
            if name_cursor
            else None,
            None,
        ),
        ("sort=-created, first page", f"{base}?sort=-created&limit=50", None),
        ("status=revoked", f"{base}?status=revoked&limit=50", None),
        ("status=active", f"{base}?status=active&limit=50", None),
        ("status=expired", f"{base}?status=expired&limit=50", None),
        ("q=billing&status=active", f"{base}?q=billing&status=active&limit=50", TARGET_SEARCH_MS),
        ("owner=bo", f"{base}?owner=bo&limit=50", None),
    ]
    rows = []
    for label, path, target in scenarios:
        if path is None:
            continue
        for _ in range(args.list_warmup):
            client.ok("GET", path)
        server, observed = [], []
        items = total = None
        for _ in range(args.list_requests):
            status, payload, server_ms, client_ms = client.request("GET", path)
            if status != 200:
                raise RuntimeError(f"GET {path} answered {status}: {payload}")
            server.append(server_ms)
            observed.append(client_ms)
            items, total = len(payload["items"]), payload["total"]
        row = {
            "label": label,
            "path": path if len(path) < 120 else path[:117] + "...",
            "requests": len(server),
            "items": items,
            "total": total,
            "server_min_ms": min(server),
            "server_p50_ms": percentile(server, 50),
            "server_p95_ms": percentile(server, 95),
            "server_max_ms": max(server),
            "client_p50_ms": percentile(observed, 50),
            "client_p95_ms": percentile(observed, 95),
            "client_max_ms": max(observed),
            "target_ms": target,
        }
        if target is not None:
            row["target_met"] = row["server_p95_ms"] < target
        rows.append(row)
        log(
            f"{label:<40} server p50 {row['server_p50_ms']:7.2f} p95 {row['server_p95_ms']:7.2f} "
            f"max {row['server_max_ms']:7.2f} ms | client p50 {row['client_p50_ms']:7.2f} ms "
            f"| {items} of {total}"
        )
    return {"runs": rows, "deep_walk": {"keys": walked, "seconds": round(walk_s, 2)}}


# --------------------------------------------------------------- report


def fmt_ms(us: float) -> str:
    return f"{us / 1000:.3f}"


def summary_tables(results: dict) -> str:
    lines = []
    meta = results["meta"]
    lines.append(
        f"keydesk benchmarks, {meta['date']}, {meta['cpus']} CPUs ({meta['cpu_model']}), "
        f"commit {meta['commit']}"
    )
    if results["verify"]["rows"]:
        lines.extend(verify_table(results, meta))
    if results["lists"]["runs"]:
        lines.extend(lists_table(results))
    for key, table in (
        ("usage", usage_table),
        ("revoke", revoke_table),
        ("lookup", lookup_table),
        ("stream", stream_table),
    ):
        if key in results:
            lines.extend(table(results[key], meta))
    lines.append("")
    lines.append("Targets")
    lines.append("")
    for check in results["targets"]:
        lines.append(f"- [{'met' if check['met'] else 'MISSED'}] {check['what']}: {check['measured']}")
    return "\n".join(lines)


def verify_table(results: dict, meta: dict) -> list[str]:
    lines = []
    lines.append("")
    lines.append(
        f"A. Verification (wrk -t{meta['wrk_threads']}, {meta['duration_s']} s per run, "
        f"median of {meta['rounds']} interleaved rounds; the load generator shares the CPUs)"
    )
    lines.append("")
    lines.append(
        "| run | conns | req/s | x healthz | server CPU us/req | p50 ms | p90 ms | p99 ms | worst p99 | max ms | errors | other load (disturbed rounds) | codes |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results["verify"]["rows"]:
        ratio = f"{r['ratio_to_healthz']:.2f}" if r["label"] != "healthz" else "1"
        codes = ", ".join(f"{k} {v}" for k, v in sorted(r["verify_codes"].items())) or "-"
        lines.append(
            f"| {r['label']} | {r['connections']} | {r['rps']:.0f} | {ratio} | {r['cpu_us_per_req']:.1f} | "
            f"{fmt_ms(r['p50_us'])} | {fmt_ms(r['p90_us'])} | {fmt_ms(r['p99_us'])} | "
            f"{fmt_ms(r['p99_us_worst'])} | {fmt_ms(r['max_us'])} | {r['errors']} | "
            f"{r['other_cores_max']:.2f} ({r['disturbed_rounds']}) | {codes} |"
        )
    return lines


def lists_table(results: dict) -> list[str]:
    lines = []
    lines.append("")
    lines.append(
        f"B. Key list, tenant with {results['seed']['keys']} keys "
        f"({results['lists']['runs'][0]['requests'] if results['lists']['runs'] else 0} requests each, "
        f"one keep-alive connection; other load during it: {results['lists'].get('other_cores_during', 0):.2f} cores; "
        "times in ms)"
    )
    lines.append("")
    lines.append(
        "| query | items | total | server min | server p50 | server p95 | server max | client p50 | client p95 | target |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results["lists"]["runs"]:
        target = "-"
        if r["target_ms"] is not None:
            target = f"< {r['target_ms']:.0f} ms: {'met' if r['target_met'] else 'MISSED'}"
        lines.append(
            f"| {r['label']} | {r['items']} | {r['total']} | {r['server_min_ms']:.2f} | {r['server_p50_ms']:.2f} | "
            f"{r['server_p95_ms']:.2f} | {r['server_max_ms']:.2f} | {r['client_p50_ms']:.2f} | "
            f"{r['client_p95_ms']:.2f} | {target} |"
        )
    return lines


def usage_table(usage: dict, meta: dict) -> list[str]:
    aa = " CALIBRATION (--usage-aa): both servers have usage history OFF;" if usage.get("aa") else ""
    lines = ["", (
        f"D.{aa} Usage history on vs off (two servers, same seeding, {usage['keys']} keys each; wrk -t{meta['wrk_threads']}, "
        f"{meta['duration_s']} s per run, {usage['rounds']} interleaved rounds, order flipped every round; "
        "'on / off' is the median of per-round ratios)"
    ), ""]
    lines.append(
        "| load | conns | req/s on | req/s off | on / off | worst round | server CPU us/req on | off | p99 ms on | off | errors | other load (disturbed rounds) |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in usage["rows"]:
        lines.append(
            f"| {r['label']} | {r['connections']} | {r['rps_on']:.0f} | {r['rps_off']:.0f} | {r['ratio']:.3f} | "
            f"{r['ratio_worst']:.3f} | {r['cpu_on']:.1f} | {r['cpu_off']:.1f} | {fmt_ms(r['p99_on'])} | "
            f"{fmt_ms(r['p99_off'])} | {r['errors']} | {r['other_cores_max']:.2f} ({r['disturbed_rounds']}) |"
        )
    rec = usage["recorded"]
    lines.append("")
    lines.append(
        f"Usage of the first key afterwards (GET .../usage?window=1h, successes): on {rec['on']}, off {rec['off']}."
    )
    return lines


def stats_cells(s: dict, keys=("p50", "p90", "p99", "max")) -> str:
    return " | ".join(f"{s[k]:.3f}" for k in keys)


def revoke_table(revoke: dict, meta: dict) -> list[str]:
    lines = ["", (
        f"E. Revoke to the first failing verification ({revoke['runs']} runs each, alternating; "
        f"{revoke['verifiers']} verifier loops on the key's secret; ms; other load during it: "
        f"{revoke.get('other_cores_during', 0):.2f} cores)"
    ), ""]
    lines.append("| from | to | p50 | p90 | p99 | max |")
    lines.append("|---|---|---:|---:|---:|---:|")
    for label, to, key in (
        ("console: `r` keypress (then `y`)", "first non-VALID answer", "console_to_failure_ms"),
        ("console: `r` keypress (then `y`)", "revoke answered, handled by the console", "console_to_answer_ms"),
        ("client: revoke request sent", "first non-VALID answer", "client_to_failure_ms"),
        ("client: revoke request sent", "revoke answered", "client_to_answer_ms"),
    ):
        lines.append(f"| {label} | {to} | {stats_cells(revoke[key])} |")
    lines.append("")
    lines.append(
        f"VALID answers to verifications sent after the revoke was answered: {revoke['valid_after_answer']}; "
        f"first failing codes: {revoke['failure_codes']}."
    )
    return lines


def lookup_table(lookup: dict, meta: dict) -> list[str]:
    lines = ["", (
        f"F. Lookup by secret on {lookup.get('tenant_keys', '?')} keys ({lookup['secrets']} secrets x "
        f"{lookup['passes']} passes, interleaved with verify of the same secrets, one request at a time; ms; "
        f"other load during it: {lookup.get('other_cores_during', 0):.2f} cores)"
    ), ""]
    lines.append("| request | n | p50 | p90 | p99 | max |")
    lines.append("|---|---:|---:|---:|---:|---:|")
    for label, key in (("POST /v1/keys/lookup", "lookup_ms"), ("POST /v1/verify (baseline)", "verify_ms")):
        lines.append(f"| {label} | {lookup[key]['n']} | {stats_cells(lookup[key])} |")
    lines.append("")
    lines.append(f"lookup p50 / verify p50: {lookup['p50_ratio']:.1f}x")
    return lines


def stream_table(stream: dict, meta: dict) -> list[str]:
    lines = ["", (
        f"G. Event stream: {stream['clients']} clients, {stream['writers']} writers editing keys at "
        f"{stream['target_rate']}/s for {stream['seconds']} s (ms; negative: the event arrived before the "
        f"mutation's answer; other load during it: {stream.get('other_cores_during', 0):.2f} cores)"
    ), ""]
    lines.append(
        f"Writers: {stream['mutations_ok']} of {stream['mutations']} mutations answered OK, achieved "
        f"{stream['achieved_rate']:.1f}/s against {stream['target_rate']}/s. Deliveries "
        f"{stream['deliveries']} of {stream['expected_deliveries']}: lost {stream['lost']}, duplicates "
        f"{stream['duplicates']}, stream reconnects {stream['reconnects']}."
    )
    lines.append("")
    lines.append("| latency | p50 | p90 | p99 | max |")
    lines.append("|---|---:|---:|---:|---:|")
    for label, key in (
        ("delivery, from the mutation's answer", "delivery_from_answer_ms"),
        ("delivery, from the mutation's request", "delivery_from_send_ms"),
        ("mutation, request to answer", "mutation_ms"),
    ):
        lines.append(f"| {label} | {stats_cells(stream[key])} |")
    return lines


def target_checks(results: dict) -> list[dict]:
    checks = []
    usage_rows = [] if results.get("usage", {}).get("aa") else results.get("usage", {}).get("rows", [])
    for r in usage_rows:
        checks.append(
            {
                "what": f"usage history on: verify throughput ({r['label']}, {r['connections']} conns) "
                f"at most {TARGET_USAGE_DROP:.0%} below off",
                "measured": f"on / off {r['ratio']:.3f} (median of {r['rounds']} rounds; worst round {r['ratio_worst']:.3f})",
                "met": r["ratio"] >= 1 - TARGET_USAGE_DROP,
            }
        )
    if "usage" in results and not results["usage"].get("aa"):
        rec = results["usage"]["recorded"]
        checks.append(
            {
                "what": "usage history off records nothing, on records",
                "measured": f"successes in the first key's last hour: on {rec['on']}, off {rec['off']}",
                "met": rec["on"] > 0 and rec["off"] == 0,
            }
        )
    if "stream" in results:
        st = results["stream"]
        checks.append(
            {
                "what": f"event stream: no event lost ({st['clients']} clients, {st['target_rate']} mutations/s)",
                "measured": f"lost {st['lost']} of {st['expected_deliveries']}, achieved {st['achieved_rate']:.1f}/s",
                "met": st["lost"] == 0,
            }
        )
    rows = results["verify"]["rows"]
    for r in rows:
        if r["label"] == "verify":
            checks.append(
                {
                    "what": f"verify >= {TARGET_VERIFY_RATIO}x healthz throughput at {r['connections']} conns",
                    "measured": f"{r['ratio_to_healthz']:.2f}x (verify {r['rps']:.0f} req/s, median of rounds)",
                    "met": r["ratio_to_healthz"] >= TARGET_VERIFY_RATIO,
                }
            )
    at = next(
        (r for r in rows if r["label"] == "verify" and r["connections"] == TARGET_VERIFY_P99_CONNS),
        None,
    )
    if at:
        checks.append(
            {
                "what": f"verify p99 < {TARGET_VERIFY_P99_MS} ms at {TARGET_VERIFY_P99_CONNS} conns",
                "measured": f"p99 {fmt_ms(at['p99_us'])} ms (median of rounds; worst {fmt_ms(at['p99_us_worst'])} ms)",
                "met": at["p99_us"] / 1000 < TARGET_VERIFY_P99_MS,
            }
        )
    for r in results["lists"]["runs"]:
        if r["target_ms"] is not None:
            checks.append(
                {
                    "what": f"{r['label']}: server-side < {r['target_ms']:.0f} ms (p95)",
                    "measured": f"p50 {r['server_p50_ms']:.2f} ms, p95 {r['server_p95_ms']:.2f} ms, max {r['server_max_ms']:.2f} ms",
                    "met": r["target_met"],
                }
            )
    return checks


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


CONSOLE_BIN = ROOT / "target" / "release" / "examples" / "console_bench"


def bench_console(port: int, token: str) -> dict:
    """C: the console against the seeded server, in its own process (so its
    memory is its own): first rows, all pages, frame, filter keystroke, sort."""
    if not CONSOLE_BIN.exists():
        return {"output": f"missing {CONSOLE_BIN}: run bench/run.sh (it builds it)"}
    done = subprocess.run(
        [str(CONSOLE_BIN), "--server", f"http://127.0.0.1:{port}", "--token", token, "--tenant", TENANT],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return {"output": done.stdout + done.stderr, "status": done.returncode}


def bench_usage(token: str, pepper: str, args) -> dict:
    """D: verify throughput with usage history on against off. Two servers of
    their own, the same binary and seeding, only `--usage-history` differs,
    so rounds alternate between them without restarts; the order within a
    round flips every round, so drift cancels in the median of ratios."""
    servers: dict[str, Server] = {}
    secrets_of: dict[str, list[str]] = {}
    try:
        for mode in ("on", "off"):
            workdir = Path(tempfile.mkdtemp(prefix=f"keydesk-bench-usage-{mode}-"))
            # --usage-aa: both off, to see how far apart two equal servers measure.
            flag = "off" if args.usage_aa else mode
            servers[mode] = Server(workdir, free_port(), token, pepper, ("--usage-history", flag))
        for mode, server in servers.items():
            server.wait_ready()
            create_tenant_and_users(Client(server.port, token))
            _, secrets_of[mode] = seed(server.workdir, pepper, args.usage_keys, valid=min(100, args.usage_keys))
            status, answer, _, _ = Client(server.port).request("POST", "/v1/verify", {"key": secrets_of[mode][0]})
            if status != 200 or not answer.get("valid"):
                raise RuntimeError(f"usage {mode}: the seeded secret does not verify: {status} {answer}")
        meters = {mode: CpuMeter(server.proc.pid) for mode, server in servers.items()}

        def load(mode: str, label: str) -> dict:
            server = servers[mode]
            if label == "verify":
                return {"KEYDESK_BENCH_BODY": json.dumps({"key": secrets_of[mode][0]})}
            return {"KEYDESK_BENCH_KEYS_FILE": str(server.workdir / "secrets.txt")}

        labels = ("verify", "verify-100-keys")
        log(f"D: warm-up, 2 s per server and load at {args.usage_connections[-1]} connections")
        for mode in servers:
            for label in labels:
                run_wrk(servers[mode].port, "/v1/verify", args.usage_connections[-1], 2, args.threads, load(mode, label))

        runs = []
        for round_no in range(1, args.usage_rounds + 1):
            other = meters["on"].wait_quiet(args.quiet_cores, args.quiet_wait)
            order = ("on", "off") if round_no % 2 else ("off", "on")
            log(f"D: round {round_no}/{args.usage_rounds}, {order[0]} first (other load before it: {other:.2f} cores)")
            for conns in args.usage_connections:
                for label in labels:
                    for attempt in range(1, args.retries + 2):
                        pair = []
                        for mode in order:
                            server, meter = servers[mode], meters[mode]
                            probe = Client(server.port)
                            before = verify_counters(probe)
                            cpu_before = meter.sample()
                            result = run_wrk(server.port, "/v1/verify", conns, args.duration, args.threads, load(mode, label))
                            cpu = meter.between(cpu_before, meter.sample())
                            after = verify_counters(probe)
                            delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
                            result.update(mode=mode, label=label, round=round_no, cpu=cpu)
                            result["server_cpu_us_per_req"] = cpu["server_cpu_s"] * 1e6 / max(result["requests"], 1)
                            result["verify_codes"] = {k: v for k, v in delta.items() if v}
                            if delta.get("VALID", 0) < result["requests"] or len(result["verify_codes"]) > 1:
                                log(f"WARNING usage {mode} {label}: {delta} for {result['requests']} requests")
                            log(
                                f"D round {round_no} usage {mode:<3} {label:<16} c={conns:<3} {result['rps']:>8.0f} req/s  "
                                f"p99 {result['p99_us'] / 1000:.3f} ms  server {result['server_cpu_us_per_req']:.1f} us CPU/req  "
                                f"other load {cpu['other_cores']:.2f} cores"
                            )
                            pair.append(result)
                        disturbed = any(r["cpu"]["other_cores"] > args.quiet_cores for r in pair)
                        if not disturbed or attempt > args.retries:
                            for r in pair:
                                r["disturbed"] = disturbed
                            runs.extend(pair)
                            break
                        log("other work ran during that pair; waiting for quiet and repeating it")
                        meters["on"].wait_quiet(args.quiet_cores, args.quiet_wait)

        rows = []
        for conns in args.usage_connections:
            for label in labels:
                by_round = {}
                for r in runs:
                    if r["label"] == label and r["connections"] == conns:
                        by_round.setdefault(r["round"], {})[r["mode"]] = r
                pairs = [p for p in by_round.values() if "on" in p and "off" in p]
                ratios = [p["on"]["rps"] / p["off"]["rps"] for p in pairs]
                group = [r for p in pairs for r in p.values()]
                rows.append(
                    {
                        "label": label,
                        "connections": conns,
                        "rounds": len(pairs),
                        "ratio": median(ratios),
                        "ratio_worst": min(ratios),
                        "ratios": ratios,
                        "cpu_ratio": median([p["on"]["server_cpu_us_per_req"] / p["off"]["server_cpu_us_per_req"] for p in pairs]),
                        "rps_on": median([p["on"]["rps"] for p in pairs]),
                        "rps_off": median([p["off"]["rps"] for p in pairs]),
                        "cpu_on": median([p["on"]["server_cpu_us_per_req"] for p in pairs]),
                        "cpu_off": median([p["off"]["server_cpu_us_per_req"] for p in pairs]),
                        "p99_on": median([p["on"]["p99_us"] for p in pairs]),
                        "p99_off": median([p["off"]["p99_us"] for p in pairs]),
                        "errors": sum(r["errors"] for r in group),
                        "other_cores_max": max(r["cpu"]["other_cores"] for r in group),
                        "disturbed_rounds": sum(1 for p in pairs if p["on"].get("disturbed")),
                    }
                )

        # What each server recorded for its first key (pending counts included).
        recorded = {}
        for mode, server in servers.items():
            admin = Client(server.port, token)
            key = admin.ok("POST", "/v1/keys/lookup", {"secret": secrets_of[mode][0]})["key"]
            history = admin.ok("GET", f"/v1/tenants/{TENANT}/keys/{key['id']}/usage?window=1h")
            recorded[mode] = sum(bucket["valid"] for bucket in history["buckets"])
        log(f"D: usage recorded for the first key: {recorded}")
        return {
            "rows": rows,
            "runs": runs,
            "recorded": recorded,
            "keys": args.usage_keys,
            "rounds": args.usage_rounds,
            "aa": args.usage_aa,
        }
    finally:
        for server in servers.values():
            server.stop()
            if args.keep:
                log(f"kept {server.workdir}")
            else:
                shutil.rmtree(server.workdir, ignore_errors=True)


def run_incident(command: str, port: int, token: str, options: list[str], timeout: float) -> dict:
    """E, F, G: one subcommand of examples/incident_bench; its summary goes
    to the log, its JSON line is the result."""
    env = dict(os.environ, KEYDESK_TOKEN=token)
    done = subprocess.run(
        [str(INCIDENT_BIN), command, "--server", f"http://127.0.0.1:{port}", *options],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    for line in done.stderr.rstrip().splitlines():
        log(line)
    if done.returncode != 0:
        raise RuntimeError(f"incident_bench {command} failed ({done.returncode}): {done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def selected_benchmarks(args) -> list[str]:
    if args.only:
        chosen = []
        for name in (n.strip() for n in args.only.split(",")):
            if not name:
                continue
            names = INCIDENT if name == "incident" else (name,)
            for n in names:
                if n not in BENCHMARKS:
                    raise SystemExit(f"--only: unknown benchmark {n!r} (one of {', '.join(BENCHMARKS)}, incident)")
                if n not in chosen:
                    chosen.append(n)
        return chosen
    skipped = set()
    if args.skip_verify:
        skipped.add("verify")
    if args.skip_lists:
        skipped.add("lists")
    if args.skip_console:
        skipped.add("console")
    if args.skip_incident:
        skipped.update(INCIDENT)
    return [b for b in BENCHMARKS if b not in skipped]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=100_000, help="keys to seed (default 100000)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of every wrk run (default 3)")
    parser.add_argument(
        "--quiet-cores",
        type=float,
        default=0.3,
        help="before each round, wait while other processes use more CPU than this (default 0.3 cores)",
    )
    parser.add_argument("--quiet-wait", type=float, default=60, help="longest such wait, seconds (default 60)")
    parser.add_argument(
        "--retries",
        type=int,
        default=2,
        help="repeat a healthz/verify pair up to this many times when other work disturbed it (default 2)",
    )
    parser.add_argument(
        "--connections",
        default="1,8,32,64",
        help="comma-separated wrk connection counts (default 1,8,32,64)",
    )
    parser.add_argument(
        "--extra-connections",
        type=int,
        default=32,
        help="connections for the 100-key and malformed-key verify runs (default 32)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="wrk threads (at most the connections; default 1)"
    )
    parser.add_argument("--list-requests", type=int, default=50, help="timed requests per list query (default 50)")
    parser.add_argument("--list-warmup", type=int, default=3, help="untimed requests per list query first (default 3)")
    parser.add_argument("--deep-offset", type=int, default=50_000, help="how deep the deep-page cursor is (default 50000)")
    parser.add_argument("--skip-verify", action="store_true", help="skip benchmark A (verification)")
    parser.add_argument("--skip-lists", action="store_true", help="skip benchmark B (key list)")
    parser.add_argument("--skip-console", action="store_true", help="skip benchmark C (console)")
    parser.add_argument("--skip-incident", action="store_true", help="skip benchmarks D-G (issue 7)")
    parser.add_argument(
        "--only",
        metavar="LIST",
        help="run only these, comma-separated: verify (A), lists (B), console (C), usage (D), revoke (E), "
        "lookup (F), stream (G); 'incident' stands for usage,revoke,lookup,stream",
    )
    parser.add_argument("--usage-rounds", type=int, default=5, help="D: interleaved on/off rounds (default 5)")
    parser.add_argument(
        "--usage-connections", default="32", help="D: comma-separated wrk connection counts (default 32)"
    )
    parser.add_argument("--usage-keys", type=int, default=1000, help="D: keys seeded into each of its servers (default 1000)")
    parser.add_argument(
        "--usage-aa",
        action="store_true",
        help="D as a calibration: both servers with usage history off (the 'on' column is then off too)",
    )
    parser.add_argument("--revoke-runs", type=int, default=50, help="E: runs through the console, and as many by the client alone (default 50)")
    parser.add_argument("--revoke-verifiers", type=int, default=2, help="E: verifier loops hammering the key's secret (default 2)")
    parser.add_argument("--lookup-passes", type=int, default=10, help="F: timed passes over the 100 seeded secrets (default 10)")
    parser.add_argument("--stream-clients", type=int, default=50, help="G: event stream clients (default 50)")
    parser.add_argument("--stream-rate", type=int, default=100, help="G: mutations a second (default 100)")
    parser.add_argument("--stream-seconds", type=int, default=20, help="G: how long the writers write (default 20)")
    parser.add_argument("--stream-writers", type=int, default=4, help="G: writer tasks, one key and one request at a time each (default 4)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    parser.add_argument("--out", default=str(ROOT / "target" / "bench"), help="where results-*.json/md go")
    args = parser.parse_args()
    # Stopped by a signal, still stop the servers and remove their directories
    # (the `finally` below); SIGINT is ignored in a shell's background jobs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args.connections = [int(c) for c in args.connections.split(",") if c.strip()]
    args.usage_connections = [int(c) for c in args.usage_connections.split(",") if c.strip()]
    selected = selected_benchmarks(args)
    log(f"benchmarks: {', '.join(selected)}")

    needed = [SERVER_BIN, SEED_BIN]
    if {"revoke", "lookup", "stream"} & set(selected):
        needed.append(INCIDENT_BIN)
    for binary in needed:
        if not binary.exists():
            print(f"missing {binary}: run bench/run.sh (it builds them)", file=sys.stderr)
            return 2
    if {"verify", "usage"} & set(selected) and shutil.which("wrk") is None:
        print("wrk is not installed: run bench/run.sh (it installs it)", file=sys.stderr)
        return 2

    workdir = Path(tempfile.mkdtemp(prefix="keydesk-bench-"))
    token = "kdbench_" + secrets.token_hex(16)
    pepper = secrets.token_hex(32)
    port = free_port()
    server = Server(workdir, port, token, pepper)
    results: dict = {
        "meta": {
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cpus": os.cpu_count(),
            "cpu_model": cpu_model(),
            "wrk_threads": args.threads,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "commit": git_commit(),
            "benchmarks": selected,
        }
    }
    try:
        server.wait_ready()
        admin = Client(port, token)
        users = create_tenant_and_users(admin)
        log(f"tenant {TENANT!r} with {len(users)} users created over the API")
        keys_file = workdir / "secrets.txt"
        if {"verify", "lists", "console", "lookup"} & set(selected):
            log(f"seeding {args.keys} keys")
            seeded, valid_keys = seed(workdir, pepper, args.keys, valid=100)
            results["seed"] = seeded
            log(f"seeded: {seeded}")
            # The seed wrote to the database file beside the running server,
            # which notices such a write within 250 ms and re-reads the keys;
            # starting it again makes the measured server one that opened the
            # seeded file, with nothing to catch up on.
            server.stop()
            server = Server(workdir, port, token, pepper)
            server.wait_ready()

        meter = CpuMeter(server.proc.pid)
        results["verify"] = {"rows": [], "runs": []}
        results["lists"] = {"runs": []}

        def measured(name: str, work) -> dict:
            """Runs one of D-G after waiting for quiet; notes the other load."""
            other = meter.wait_quiet(args.quiet_cores, args.quiet_wait)
            before = meter.sample()
            result = work()
            cpu = meter.between(before, meter.sample())
            result["other_cores_before"] = other
            result["other_cores_during"] = cpu["other_cores"]
            log(f"{name}: other load {other:.2f} cores before, {cpu['other_cores']:.2f} during")
            return result

        if "lists" in selected:
            # B first: the database is as seeded, no usage rows written yet.
            other = meter.wait_quiet(args.quiet_cores, args.quiet_wait)
            before = meter.sample()
            results["lists"] = bench_lists(port, token, args.keys, args)
            cpu = meter.between(before, meter.sample())
            results["lists"]["other_cores_before"] = other
            results["lists"]["other_cores_during"] = cpu["other_cores"]
            log(f"B: other load {other:.2f} cores before, {cpu['other_cores']:.2f} during")
        if "console" in selected:
            results["console"] = bench_console(port, token)
            log("C: console benchmark done")
        if "verify" in selected:
            results["verify"] = bench_verify(port, valid_keys, keys_file, meter, args)
        if "usage" in selected:
            # Its own servers; the CPU meter of the first one only sees them as other load.
            results["usage"] = bench_usage(token, pepper, args)
        if "lookup" in selected:
            results["lookup"] = measured(
                "F",
                lambda: run_incident(
                    "lookup", port, token, ["--secrets", str(keys_file), "--passes", str(args.lookup_passes)], 600
                ),
            )
            results["lookup"]["tenant_keys"] = results["seed"]["keys"]
        if "revoke" in selected:
            results["revoke"] = measured(
                "E",
                lambda: run_incident(
                    "revoke",
                    port,
                    token,
                    ["--runs", str(args.revoke_runs), "--verifiers", str(args.revoke_verifiers)],
                    600,
                ),
            )
        if "stream" in selected:
            results["stream"] = measured(
                "G",
                lambda: run_incident(
                    "stream",
                    port,
                    token,
                    [
                        "--clients", str(args.stream_clients),
                        "--rate", str(args.stream_rate),
                        "--seconds", str(args.stream_seconds),
                        "--writers", str(args.stream_writers),
                    ],
                    args.stream_seconds + 300,
                ),
            )
        results["targets"] = target_checks(results)
    finally:
        server.stop()
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    table = summary_tables(results)
    if "console" in results:
        table += "\n\n### C. Console on 100,000 keys\n\n```text\n" + results["console"]["output"].rstrip() + "\n```"

    (out_dir / f"results-{stamp}.json").write_text(json.dumps(results, indent=2))
    (out_dir / f"results-{stamp}.md").write_text(table + "\n")
    print(table)
    log(f"results written to {out_dir}/results-{stamp}.{{json,md}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
