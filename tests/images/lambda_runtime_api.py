"""A minimal AWS Lambda Runtime API, run INSIDE a container image to invoke it as Lambda does.

The real Runtime Interface Emulator is a GitHub download; this stands in for the part a
runtime talks to (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):

    GET  /2018-06-01/runtime/invocation/next          the next event, with its request id
    POST /2018-06-01/runtime/invocation/{id}/response the function's result
    POST /2018-06-01/runtime/invocation/{id}/error    an error the handler raised
    POST /2018-06-01/runtime/init/error               an error before the first event

    python3 lambda_runtime_api.py [--timeout S] -- <runtime command...>  < events.json

Serves on 127.0.0.1 (no network needed), starts the runtime command with
AWS_LAMBDA_RUNTIME_API pointing at itself, hands it the events read from stdin (a JSON
list) one at a time, and prints one JSON document on stdout: each invocation's outcome,
the runtime process's uid, and whether the root filesystem was writable. The runtime's
own output goes to stderr. Stdlib only: it runs on whatever Python the image has.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"
FUNCTION_NAME = "ragstack-embedding"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION_NAME}"


class RuntimeApi:
    def __init__(self, events: list[dict], timeout_ms: int) -> None:
        self.pending: queue.Queue[tuple[str, dict]] = queue.Queue()
        self.order: list[str] = []
        for event in events:
            request_id = str(uuid.uuid4())
            self.order.append(request_id)
            self.pending.put((request_id, event))
        self.timeout_ms = timeout_ms
        self.outcomes: dict[str, dict] = {}
        self.init_error: dict | None = None
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.started: dict[str, float] = {}

    def record(self, request_id: str | None, outcome: dict) -> None:
        with self.lock:
            if request_id is None:
                self.init_error = outcome
                self.done.set()
                return
            outcome["seconds"] = round(time.monotonic() - self.started.get(request_id, 0), 3)
            self.outcomes[request_id] = outcome
            if len(self.outcomes) == len(self.order):
                self.done.set()


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # The runtime's keep-alive connection resets when it is stopped after the
        # last event (its environment "frozen"): expected, not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def make_handler(api: RuntimeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: object) -> None:  # quiet: stdout is the result
            pass

        def reply(self, status: int, body: bytes = b"{}", headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path != f"{PREFIX}/invocation/next":
                self.reply(404, b'{"errorType":"NotFound"}')
                return
            # Blocks like Lambda's: a runtime that asks after the last event waits
            # here until the process is stopped (the environment is frozen).
            request_id, event = api.pending.get()
            api.started[request_id] = time.monotonic()
            deadline = int(time.time() * 1000) + api.timeout_ms
            trace = uuid.uuid4().hex[:32]
            self.reply(
                200,
                json.dumps(event).encode(),
                {
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline),
                    "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                    "Lambda-Runtime-Trace-Id": f"Root=1-{trace[:8]}-{trace[8:]}",
                },
            )

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                body = raw.decode(errors="replace")
            parts = self.path[len(PREFIX) :].strip("/").split("/")
            if parts == ["init", "error"]:
                api.record(
                    None,
                    {"error": body, "type": self.headers.get("Lambda-Runtime-Function-Error-Type")},
                )
            elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                if parts[1] not in api.order:
                    self.reply(400, b'{"errorType":"InvalidRequestID"}')
                    return
                api.record(parts[1], {parts[2]: body})
            else:
                self.reply(404, b'{"errorType":"NotFound"}')
                return
            self.reply(202, b'{"status":"OK"}')

    return Handler


def process_status(pid: int) -> dict[str, str]:
    """/proc/<pid>/status as a dict (empty once the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return dict(line.rstrip("\n").split(":\t", 1) for line in status if ":\t" in line)
    except OSError:
        return {}


def root_writable() -> str:
    """'writable', or the errno name that stopped a write outside /tmp."""
    probe = os.path.join(os.getcwd(), f".write-probe-{os.getpid()}")
    try:
        with open(probe, "w"):
            pass
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    os.unlink(probe)
    return "writable"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=300, help="seconds for all invocations")
    parser.add_argument("--function-timeout-ms", type=int, default=60000)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no runtime command after --")
    events = json.load(sys.stdin)

    api = RuntimeApi(events, args.function_timeout_ms)
    server = Server(("127.0.0.1", 0), make_handler(api))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]

    env = {
        **os.environ,
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "3008",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION_NAME}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    started = time.monotonic()
    runtime = subprocess.Popen(command, env=env, stdout=sys.stderr, stderr=sys.stderr)
    deadline = started + args.timeout
    while not api.done.is_set() and runtime.poll() is None and time.monotonic() < deadline:
        api.done.wait(0.5)
    exit_code = runtime.poll()
    status = process_status(runtime.pid)  # after exec, while the runtime still runs
    if exit_code is None:
        runtime.terminate()
        try:
            runtime.wait(10)
        except subprocess.TimeoutExpired:
            runtime.kill()
    server.shutdown()
    result = {
        "runtime_api": f"127.0.0.1:{port}",
        "command": command,
        "runtime_uid": int(status["Uid"].split()[0]) if status else None,
        "runtime_peak_rss_mb": int(status["VmHWM"].split()[0]) // 1024 if status else None,
        "runtime_exited_early": exit_code,
        "timed_out": not api.done.is_set() and exit_code is None,
        "root_filesystem": root_writable(),
        "seconds": round(time.monotonic() - started, 3),
        "init_error": api.init_error,
        "invocations": [api.outcomes.get(request_id) for request_id in api.order],
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
