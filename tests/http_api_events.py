"""API Gateway HTTP API events (payload format 2.0), as API Gateway hands them to a Lambda.

One builder for every test that invokes our handlers the way AWS does: in-process, in the
Lambda container image, or behind the local HTTP API emulator.
"""

from __future__ import annotations

import base64
import datetime
import json
import uuid
from urllib.parse import parse_qsl

ACCOUNT = "123456789012"
API_ID = "abc123"
DOMAIN = f"{API_ID}.execute-api.us-east-1.amazonaws.com"


def http_api_event(
    method: str,
    path: str,
    body: object = None,
    *,
    route_key: str = "$default",
    raw_query: str = "",
    headers: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
    iam_caller: str | None = None,
) -> dict:
    """body: None, JSON-able (sent as JSON text) or bytes (sent base64-encoded, as API
    Gateway does when it cannot tell the body is text). iam_caller: the access key of an
    AWS_IAM-authorised caller (requestContext.authorizer.iam)."""
    now = datetime.datetime.now(datetime.UTC)
    headers = {
        "host": DOMAIN,
        "content-type": "application/json",
        "user-agent": "ragstack-test",
    } | (headers or {})
    event: dict = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "domainName": headers["host"],
            "domainPrefix": headers["host"].split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": isinstance(body, bytes) and bool(body),
    }
    if isinstance(body, bytes):
        if body:
            event["body"] = base64.b64encode(body).decode()
    elif body is not None:
        event["body"] = json.dumps(body)
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        # API Gateway joins repeated parameters with commas.
        query[name] = f"{query[name]},{value}" if name in query else value
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if iam_caller:
        event["requestContext"]["authorizer"] = {
            "iam": {
                "accessKey": iam_caller,
                "accountId": ACCOUNT,
                "callerId": f"AROAFAKE:{iam_caller}",
                "userArn": f"arn:aws:sts::{ACCOUNT}:assumed-role/ragstack-dev-orchestrator/x",
                "userId": f"AROAFAKE:{iam_caller}",
            }
        }
    return event
