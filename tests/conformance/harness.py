#!/usr/bin/env python3
"""Differential S3 conformance harness.

Runs the scripted scenarios of `scenarios.py` with boto3 against two endpoints (A, the
reference, and B, the one under test), each scenario in fresh uniquely-named buckets, and
compares every step: HTTP status, S3 error code, selected headers, body hash and the parsed
result (listings in full), after mapping what legitimately differs (request ids, dates, owner
ids, upload and version ids, bucket names, opaque tokens) to consistent placeholders.

A difference fails the run unless `exceptions.toml` lists it (section = --pair) with a reason;
listed exceptions that matched nothing are reported as stale.

    python harness.py --a http://127.0.0.1:5000 --a-creds testing:testing \
        --b http://127.0.0.1:8000 --b-creds AK:SK [--pair NAME] [--only SCENARIO] [--json out]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import fnmatch
import hashlib
import json
import os
import secrets
import sys
import tomllib
import traceback
from dataclasses import dataclass, field

import boto3
import botocore.config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))

# Response headers compared on successful answers. Values compared literally unless listed in
# PRESENCE_ONLY (then only "is it there").
HEADERS = [
    "etag",
    "content-length",
    "content-range",
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
    "accept-ranges",
    "last-modified",
    "x-amz-version-id",
    "x-amz-delete-marker",
    "x-amz-tagging-count",
    "x-amz-mp-parts-count",
    "x-amz-website-redirect-location",
]
# For answers whose body is an XML document (its length varies with ids), only these.
# Last-Modified is a property of the object read, not of a write's answer.
HEADERS_XML = [h for h in HEADERS if h not in ("content-length", "content-type", "last-modified")]
PRESENCE_ONLY = {"last-modified", "x-amz-version-id"}

# Parsed-result keys whose values are opaque per-endpoint ids: mapped to numbered placeholders
# in order of first appearance, so equal behaviour yields equal placeholders.
ID_KEYS = {
    "UploadId": "upload",
    "NextUploadIdMarker": "upload",
    "UploadIdMarker": "upload",
    "VersionId": "version",
    "VersionIdMarker": "version",
    "NextVersionIdMarker": "version",
    "CopySourceVersionId": "version",
    "DeleteMarkerVersionId": "version",
}
# Keys whose values only matter for presence.
OPAQUE_KEYS = {
    "ID": "<id>",
    "DisplayName": "<name>",
    "ContinuationToken": "<token>",
    "NextContinuationToken": "<token>",
    "RequestId": None,
    "HostId": None,
    "RequestCharged": None,
}
# Operations whose answer is compared by headers + body rather than by parsed result.
OBJECT_READS = {"get_object", "head_object"}


def make_client(url: str, creds: str):
    ak, sk = creds.split(":", 1)
    cfg = botocore.config.Config(
        s3={"addressing_style": "path"},
        retries={"max_attempts": 1, "mode": "standard"},
        signature_version="s3v4",
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        connect_timeout=5,
        read_timeout=60,
    )
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=ak,
        aws_secret_access_key=sk,
        region_name="us-east-1",
        config=cfg,
    )


@dataclass
class Step:
    name: str
    op: str
    fields: dict = field(default_factory=dict)


class Session:
    """One side's run of one scenario: executes calls and records normalised steps."""

    def __init__(self, client, url: str, side: str, scenario: str):
        self.client = client
        self.url = url.rstrip("/")
        self.side = side
        self.scenario = scenario
        self.steps: list[Step] = []
        self.buckets: dict[str, str] = {}
        self.ids: dict[str, dict[str, str]] = {}
        self._names: set[str] = set()

    # -- scenario API -------------------------------------------------------------------

    def bucket(self, label: str = "b") -> str:
        """Creates a fresh bucket (recorded as step `create-<label>`) and returns its name."""
        short = self.scenario.replace("_", "-")[:24].strip("-")
        name = f"cf{self.side.lower()}-{short}-{label}-{secrets.token_hex(4)}"[:63]
        self.buckets[name] = f"<bucket:{label}>"
        self.call(f"create-{label}", "create_bucket", Bucket=name)
        return name

    def call(self, step: str, op: str, **params) -> dict:
        """Runs `op`, records the step, returns the raw answer (error answers included)."""
        assert step not in self._names, f"duplicate step name {step} in {self.scenario}"
        self._names.add(step)
        rec = Step(step, op)
        resp: dict
        try:
            resp = getattr(self.client, op)(**params)
            status = resp["ResponseMetadata"]["HTTPStatusCode"]
            rec.fields["status"] = status
            rec.fields["error"] = None
            headers = resp["ResponseMetadata"].get("HTTPHeaders", {})
            self._headers(rec, headers, only=None if op in OBJECT_READS else HEADERS_XML)
            if op in OBJECT_READS:
                if "Body" in resp:
                    data = resp["Body"].read()
                    resp["_body"] = data
                    rec.fields["body"] = f"{len(data)}:{hashlib.sha256(data).hexdigest()[:16]}"
            else:
                result = {k: v for k, v in resp.items() if k not in ("ResponseMetadata",)}
                for k, v in self.norm(result).items():
                    rec.fields[f"result.{k}"] = v
        except ClientError as e:
            resp = e.response
            rec.fields["status"] = resp.get("ResponseMetadata", {}).get("HTTPStatusCode")
            rec.fields["error"] = resp.get("Error", {}).get("Code")
            if rec.fields["status"] == 304:
                # A 304 is not an error in S3's sense: its validators still matter.
                self._headers(rec, resp.get("ResponseMetadata", {}).get("HTTPHeaders", {}), only=("etag",))
        except Exception as e:  # noqa: BLE001 - any client-side failure is a recorded result
            resp = {}
            rec.fields["status"] = None
            rec.fields["error"] = f"client:{type(e).__name__}"
        self.steps.append(rec)
        return resp

    def note(self, step: str, value) -> None:
        """Records a derived observation (e.g. an ordering check) as its own step."""
        assert step not in self._names, f"duplicate step name {step} in {self.scenario}"
        self._names.add(step)
        self.steps.append(Step(step, "note", {"value": self.norm(value)}))

    # -- normalisation --------------------------------------------------------------------

    def _headers(self, rec: Step, headers: dict, only=None) -> None:
        names = only or HEADERS
        for h in names:
            v = headers.get(h)
            if h in PRESENCE_ONLY and v is not None and not (h == "x-amz-version-id" and v == "null"):
                v = "<present>"
            rec.fields[f"header:{h}"] = v
        if only is None or only is HEADERS_XML:
            meta = {k: v for k, v in headers.items() if k.startswith("x-amz-meta-")}
            rec.fields["header:x-amz-meta-*"] = dict(sorted(meta.items())) or None

    def placeholder(self, kind: str, value: str) -> str:
        if value in ("null", "", None):
            return value
        m = self.ids.setdefault(kind, {})
        if value not in m:
            m[value] = f"<{kind}-{len(m) + 1}>"
        return m[value]

    def norm_str(self, s: str) -> str:
        s = s.replace(self.url, "<endpoint>")
        for name, ph in self.buckets.items():
            s = s.replace(name, ph)
        return s

    def norm(self, v, key: str | None = None):
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                if k in OPAQUE_KEYS:
                    if OPAQUE_KEYS[k] is not None and x is not None:
                        out[k] = OPAQUE_KEYS[k]
                    continue
                out[k] = self.norm(x, k)
            return out
        if isinstance(v, (list, tuple)):
            return [self.norm(x, key) for x in v]
        if isinstance(v, _dt.datetime):
            return "<date>"
        if isinstance(v, bytes):
            return f"<{len(v)} bytes {hashlib.sha256(v).hexdigest()[:16]}>"
        if isinstance(v, str):
            if key in ID_KEYS:
                return self.placeholder(ID_KEYS[key], v)
            return self.norm_str(v)
        if hasattr(v, "read"):
            return "<stream>"
        return v


# -- comparison -------------------------------------------------------------------------


@dataclass
class Exception_:
    pair: str
    scenario: str
    steps: list[str]
    fields: list[str]
    reason: str
    hits: int = 0

    def matches(self, scenario: str, step: str, fld: str) -> bool:
        return (
            fnmatch.fnmatchcase(scenario, self.scenario)
            and any(fnmatch.fnmatchcase(step, s) for s in self.steps)
            and any(fnmatch.fnmatchcase(fld, f) for f in self.fields)
        )


def load_exceptions(path: str, pair: str | None) -> list[Exception_]:
    if not pair or not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    out = []
    for e in doc.get(pair, []):
        fields = e.get("fields") or [e.get("field", "*")]
        steps = e.get("steps") or [e.get("step", "*")]
        out.append(Exception_(pair, e.get("scenario", "*"), steps, fields, e["reason"]))
    return out


def compare(scenario: str, a: list[Step], b: list[Step], exceptions: list[Exception_]):
    """Yields (step, kind, diffs) with kind in equal/excepted/different and diffs a list of
    (field, a_value, b_value, exception-or-None)."""
    bmap = {s.name: s for s in b}
    amap = {s.name: s for s in a}
    order = [s.name for s in a] + [s.name for s in b if s.name not in amap]
    for name in order:
        sa, sb = amap.get(name), bmap.get(name)
        fa = sa.fields if sa else {"step": "missing"}
        fb = sb.fields if sb else {"step": "missing"}
        diffs = []
        for k in list(fa) + [k for k in fb if k not in fa]:
            va, vb = fa.get(k), fb.get(k)
            if va != vb:
                exc = next((e for e in exceptions if e.matches(scenario, name, k)), None)
                if exc:
                    exc.hits += 1
                diffs.append((k, va, vb, exc))
        if not diffs:
            kind = "equal"
        elif all(d[3] for d in diffs):
            kind = "excepted"
        else:
            kind = "different"
        yield name, kind, diffs


def short(v, limit=600) -> str:
    s = json.dumps(v, sort_keys=True, default=str)
    return s if len(s) <= limit else s[:limit] + "…"


def run_scenario(fn, client, url, side, name) -> list[Step]:
    s = Session(client, url, side, name)
    try:
        fn(s)
    except Exception as e:  # noqa: BLE001 - a crashed scenario is itself a result
        s.steps.append(Step("scenario-aborted", "abort", {"error": f"{type(e).__name__}: {e}"}))
        traceback.print_exc(file=sys.stderr)
    return s.steps


def main(argv=None) -> int:
    sys.path.insert(0, HERE)
    import scenarios  # noqa: PLC0415

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--a", required=True, help="reference endpoint URL")
    p.add_argument("--b", required=True, help="endpoint under test URL")
    p.add_argument("--a-creds", default="testing:testing", help="ACCESS:SECRET for A")
    p.add_argument("--b-creds", default="testing:testing", help="ACCESS:SECRET for B")
    p.add_argument("--pair", help="section of the exceptions file that applies")
    p.add_argument("--exceptions", default=os.path.join(HERE, "exceptions.toml"))
    p.add_argument("--only", action="append", help="run only these scenarios (glob)")
    p.add_argument("--json", help="write every step's fields and verdict here")
    p.add_argument("--fail-stale", action="store_true", help="stale exceptions fail the run")
    p.add_argument("--list", action="store_true", help="list scenarios and exit")
    args = p.parse_args(argv)

    todo = [
        (n, f)
        for n, f in scenarios.SCENARIOS
        if not args.only or any(fnmatch.fnmatchcase(n, o) for o in args.only)
    ]
    if args.list:
        print("\n".join(n for n, _ in todo))
        return 0
    exceptions = load_exceptions(args.exceptions, args.pair)
    ca, cb = make_client(args.a, args.a_creds), make_client(args.b, args.b_creds)
    counts = {"steps": 0, "equal": 0, "excepted": 0, "different": 0}
    report, out = [], []
    for name, fn in todo:
        sa = run_scenario(fn, ca, args.a, "A", name)
        sb = run_scenario(fn, cb, args.b, "B", name)
        for step, kind, diffs in compare(name, sa, sb, exceptions):
            counts["steps"] += 1
            counts[kind] += 1
            out.append(
                {
                    "scenario": name,
                    "step": step,
                    "verdict": kind,
                    "a": next((s.fields for s in sa if s.name == step), None),
                    "b": next((s.fields for s in sb if s.name == step), None),
                    "diffs": [
                        {"field": k, "a": va, "b": vb, "reason": e.reason if e else None}
                        for k, va, vb, e in diffs
                    ],
                }
            )
            if kind == "different":
                lines = [f"--- {name} / {step}"]
                for k, va, vb, e in diffs:
                    tag = f"  (excepted: {e.reason})" if e else ""
                    lines.append(f"    {k}:{tag}\n      A: {short(va)}\n      B: {short(vb)}")
                report.append("\n".join(lines))
    stale = [e for e in exceptions if e.hits == 0 and _applies(e, todo)]
    for r in report:
        print(r)
    if stale:
        print(f"\nSTALE exceptions in [{args.pair}] (listed but no longer occurring):")
        for e in stale:
            print(f"  scenario={e.scenario} steps={e.steps} fields={e.fields}: {e.reason}")
    print(
        f"\nconformance{' [' + args.pair + ']' if args.pair else ''}: {counts['steps']} steps, "
        f"{counts['equal']} equal, {counts['excepted']} excepted, {counts['different']} different, "
        f"{len(stale)} stale exceptions"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"counts": counts, "steps": out, "stale": [vars(e) for e in stale]}, f, indent=1, default=str)
    failed = counts["different"] > 0 or (args.fail_stale and stale)
    return 1 if failed else 0


def _applies(e: Exception_, todo) -> bool:
    """An exception is only judged stale when its scenario was run."""
    return any(fnmatch.fnmatchcase(n, e.scenario) for n, _ in todo)


if __name__ == "__main__":
    sys.exit(main())
