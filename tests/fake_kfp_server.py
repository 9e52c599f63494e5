"""A fake KFP API server: the parts of the v2beta1 REST API that kfp.Client calls to submit and wait.

It records every request and answers from a little state: experiments by name, the states a
run goes through, and optionally one error answer for every request.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

API = "/apis/v2beta1"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]


@dataclass
class FakeKfp:
    """What the server received, and what it answers."""

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    experiments: dict[str, dict] = field(default_factory=dict)  # by display name
    runs: dict[str, dict] = field(default_factory=dict)  # by run id
    run_states: list[str] = field(default_factory=lambda: ["SUCCEEDED"])  # get run answers these in turn
    error: tuple[int, str] | None = None  # (status, message) answered to every request
    run_error: tuple[int, str] | None = None  # (status, message) answered to create run

    def calls(self, method: str, path: str) -> list[Request]:
        return [request for request in self.requests if request.method == method and request.path == API + path]

    def answer(self, request: Request) -> tuple[int, dict]:
        if self.error:
            return _error(*self.error)
        route = (request.method, request.path.removeprefix(API))
        if route == ("GET", "/healthz"):
            return 200, {"multi_user": False, "commit_sha": "fake", "tag_name": "2.0.5"}
        if route == ("GET", "/experiments"):
            return 200, self._list_experiments(request.query)
        if route == ("POST", "/experiments"):
            experiment = {**request.body, "experiment_id": f"experiment-{len(self.experiments) + 1}"}
            self.experiments[experiment["display_name"]] = experiment
            return 200, experiment
        if route == ("POST", "/runs"):
            if self.run_error:
                return _error(*self.run_error)
            run = {**request.body, "run_id": f"run-{len(self.runs) + 1}", "state": "PENDING"}
            self.runs[run["run_id"]] = run
            return 200, run
        if request.method == "GET" and route[1].removeprefix("/runs/") in self.runs:
            run = self.runs[route[1].removeprefix("/runs/")]
            state = self.run_states.pop(0) if len(self.run_states) > 1 else self.run_states[0]
            failure = {"error": {"code": 2, "message": "Trainer failed"}} if state == "FAILED" else {}
            return 200, {"run_id": run["run_id"], "display_name": run["display_name"], "state": state, **failure}
        return _error(404, f"no route {request.method} {request.path}")

    def _list_experiments(self, query: dict[str, str]) -> dict:
        predicates = json.loads(query.get("filter", "{}")).get("predicates", [])
        names = [predicate["stringValue"] for predicate in predicates if predicate["key"] == "display_name"]
        found = [experiment for name, experiment in self.experiments.items() if not names or name in names]
        return {"experiments": found, "total_size": len(found)} if found else {}


def _error(status: int, message: str) -> tuple[int, dict]:
    """The grpc-gateway error body the KFP API answers with."""
    return status, {"error": message, "code": 16 if status == 401 else 3, "message": message}


@contextmanager
def serve(fake: FakeKfp) -> Iterator[FakeKfp]:
    """Serves `fake` on 127.0.0.1 (a free port) in a thread; fake.url is its address."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw_body = self.rfile.read(length) if length else b""
            request = Request(
                method=self.command,
                path=parts.path,
                query={key: values[0] for key, values in parse_qs(parts.query, keep_blank_values=True).items()},
                body=json.loads(raw_body) if raw_body else None,
                headers={key.lower(): value for key, value in self.headers.items()},
            )
            fake.requests.append(request)
            status, answer = fake.answer(request)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:  # keeps the test output clean
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
