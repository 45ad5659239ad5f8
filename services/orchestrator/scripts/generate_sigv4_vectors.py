"""Writes test/fixtures/sigv4_vectors.json: SigV4 known answers computed by botocore.

src/sigv4.js must sign each request exactly as botocore's SigV4Auth does (service
execute-api), so test/sigv4.test.js compares its output with these. Reproducible:
fixed clock, fake credentials. Run from the repository root after changing a case:

    .venv/bin/python services/orchestrator/scripts/generate_sigv4_vectors.py
"""

from __future__ import annotations

import datetime
import hashlib
import json
from pathlib import Path
from unittest import mock
from urllib.parse import unquote, urlsplit, urlunsplit

import botocore
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

OUT = Path(__file__).resolve().parents[1] / "test" / "fixtures" / "sigv4_vectors.json"
NOW = datetime.datetime(2026, 11, 26, 13, 37, 5, tzinfo=datetime.UTC)
# Fake credentials: AWS's documented example key and a made-up session token.
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # noqa: S105
TOKEN = "FwoGZXIvYXdzEXAMPLE//////////wEaDFakeSessionToken+With/Slashes=="  # noqa: S105
API = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
JSON_HEADERS = {"accept": "application/json", "content-type": "application/json"}

# url: what the caller hands the signer (query in any order and encoding).
CASES = [
    {
        "name": "GET with a query string, unsorted and loosely encoded",
        "method": "GET",
        "url": f"{API}/ready?verbose=yes&a=it's%20(1)*&a=0&empty=",
        "headers": {"accept": "application/json"},
        "body": None,
        "session_token": None,
        "region": "us-east-1",
    },
    {
        "name": "POST with a JSON body and a session token",
        "method": "POST",
        "url": f"{API}/search",
        "headers": JSON_HEADERS,
        "body": json.dumps({"query": "What is ragstack?", "k": 5}, separators=(",", ":")),
        "session_token": TOKEN,
        "region": "us-east-1",
    },
    {
        "name": "POST with a non-ASCII JSON body, no session token",
        "method": "POST",
        "url": f"{API}/documents",
        "headers": JSON_HEADERS,
        "body": json.dumps(
            {"documents": [{"id": "café", "text": "Crème brûlée — 10 €"}]},
            ensure_ascii=False,
            separators=(",", ":"),
        ),
        "session_token": None,
        "region": "eu-west-3",
    },
    {
        "name": "DELETE on a path that needs encoding (space, encoded slash, UTF-8)",
        "method": "DELETE",
        "url": f"{API}/documents/report%202026%2Fq1-caf%C3%A9",
        "headers": {"accept": "application/json"},
        "body": None,
        "session_token": TOKEN,
        "region": "us-east-1",
    },
    {
        "name": "Host with a port, header value with inner and outer spaces",
        "method": "POST",
        "url": "http://127.0.0.1:8123/stage/search?k=3",
        "headers": {**JSON_HEADERS, "x-ragstack-note": "  two   spaces  here "},
        "body": "{}",
        "session_token": None,
        "region": "us-east-1",
    },
]


class RecordingSigV4Auth(SigV4Auth):
    """botocore's signer, keeping the canonical request and string to sign it made."""

    def canonical_request(self, request):
        self.last_canonical_request = super().canonical_request(request)
        return self.last_canonical_request

    def string_to_sign(self, request, canonical_request):
        self.last_string_to_sign = super().string_to_sign(request, canonical_request)
        return self.last_string_to_sign


def _sent_url(url: str) -> str:
    """The URL as sent: botocore's own canonical query (decoded pairs, strictly encoded, sorted)."""
    parts = urlsplit(url)
    pairs = [pair.partition("=") for pair in parts.query.split("&") if pair]
    query = SigV4Auth._canonical_query_string_params(
        None, [(unquote(key), unquote(value)) for key, _, value in pairs]
    )
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _vector(case: dict) -> dict:
    body = (case["body"] or "").encode()
    url = _sent_url(case["url"])
    headers = {**case["headers"], "X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()}
    request = AWSRequest(method=case["method"], url=url, headers=headers, data=body or None)
    credentials = Credentials("AKIDEXAMPLE", SECRET, case["session_token"])
    auth = RecordingSigV4Auth(credentials, "execute-api", case["region"])
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        auth.add_auth(request)
    sent = {name.lower(): value for name, value in request.headers.items()}
    return {
        "name": case["name"],
        "input": {
            "method": case["method"],
            "url": case["url"],
            "headers": case["headers"],
            "body": case["body"],
            "credentials": {
                "accessKeyId": "AKIDEXAMPLE",
                "secretAccessKey": SECRET,
                **({"sessionToken": case["session_token"]} if case["session_token"] else {}),
            },
            "region": case["region"],
            "service": "execute-api",
            "now": NOW.isoformat().replace("+00:00", "Z"),
        },
        "expected": {
            "url": url,
            "headers": sent,
            "canonicalRequest": auth.last_canonical_request,
            "stringToSign": auth.last_string_to_sign,
        },
    }


def main() -> None:
    vectors = {
        "generator": "services/orchestrator/scripts/generate_sigv4_vectors.py",
        "botocore": botocore.__version__,
        "vectors": [_vector(case) for case in CASES],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(vectors, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(CASES)} vectors to {OUT}")


if __name__ == "__main__":
    main()
