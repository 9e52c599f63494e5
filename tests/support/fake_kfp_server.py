"""A fake KFP API server: the parts of the v2beta1 REST API that kfp.Client calls to submit and wait.

It records every request and answers from a little state: experiments by name, pipelines and
their versions, runs and the states a run goes through, recurring runs, and optionally one error
answer for every request. What it checks and how it refuses follows KFP 2.17.0's API server (the
file and function are named beside each check) in single-user mode, where the server ignores
namespaces (backend/src/apiserver/resource/resource_manager.go ReplaceNamespace).
"""

from __future__ import annotations

import email.parser
import email.policy
import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

API = "/apis/v2beta1"
# robfig/cron v1.2.0 parser.go parseDescriptor, besides `@every <duration>`.
CRON_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
# The file names ReadPipelineFile takes by their extension (2.17.0 backend/src/apiserver/server/util.go).
SPEC_FILE_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content: bytes


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    files: dict[str, UploadedFile] = field(default_factory=dict)  # a multipart form's files by field name


@dataclass
class FakeKfp:
    """What the server received, and what it answers."""

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    experiments: dict[str, dict] = field(default_factory=dict)  # by display name
    pipelines: dict[str, dict] = field(default_factory=dict)  # by pipeline id
    pipeline_versions: dict[str, dict] = field(default_factory=dict)  # by version id, with the uploaded file
    runs: dict[str, dict] = field(default_factory=dict)  # by run id
    recurring_runs: dict[str, dict] = field(default_factory=dict)  # by recurring run id
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
            return 200, {"multi_user": False, "commit_sha": "fake", "tag_name": "2.17.0"}
        if route == ("GET", "/experiments"):
            return 200, self._list_experiments(request.query)
        if route == ("POST", "/experiments"):
            experiment = {**request.body, "experiment_id": f"experiment-{len(self.experiments) + 1}"}
            self.experiments[experiment["display_name"]] = experiment
            return 200, experiment
        if route == ("GET", "/pipelines"):
            return 200, self._list_pipelines(request.query)
        if route == ("POST", "/pipelines"):
            return self._create_pipeline(request.body)
        if route == ("POST", "/pipelines/upload_version"):
            return self._upload_version(request)
        if route == ("POST", "/runs"):
            return self._create_run(request.body)
        if route == ("POST", "/recurringruns"):
            return self._create_recurring_run(request.body)
        if request.method == "GET" and route[1].removeprefix("/runs/") in self.runs:
            run = self.runs[route[1].removeprefix("/runs/")]
            state = self.run_states.pop(0) if len(self.run_states) > 1 else self.run_states[0]
            failure = {"error": {"code": 2, "message": "Trainer failed"}} if state == "FAILED" else {}
            return 200, {"run_id": run["run_id"], "display_name": run["display_name"], "state": state, **failure}
        return _error(404, f"no route {request.method} {request.path}")

    def _list_experiments(self, query: dict[str, str]) -> dict:
        names = _filter_values(query, "display_name")
        found = [experiment for name, experiment in self.experiments.items() if not names or name in names]
        return {"experiments": found, "total_size": len(found)} if found else {}

    def _list_pipelines(self, query: dict[str, str]) -> dict:
        """Filters on `name` or `display_name`, the keys of 2.17.0 model/pipeline.go pipelineAPIToModelFieldMap."""
        names, display_names = _filter_values(query, "name"), _filter_values(query, "display_name")
        found = [
            pipeline
            for pipeline in self.pipelines.values()
            if (not names or pipeline["name"] in names)
            and (not display_names or pipeline["display_name"] in display_names)
        ]
        return {"pipelines": found, "total_size": len(found)} if found else {}

    def _create_pipeline(self, body: dict) -> tuple[int, dict]:
        """2.17.0 server/api_converter.go toModelPipeline: a missing name is the display name and the
        other way round; pipeline_server.go createPipeline: a name is required; storage/pipeline_store.go
        CreatePipeline: names are unique (in a namespace)."""
        name = body.get("name") or body.get("display_name") or ""
        if not name:
            return _error(400, "Failed to create a pipeline due to server error: Invalid input error: name is required")
        if any(pipeline["name"] == name for pipeline in self.pipelines.values()):
            return _error(
                409,
                "Failed to create a pipeline due to server error: Already exist error: Failed to create a new "
                f"pipeline. The name {name} already exist. Please specify a new name",
            )
        pipeline = {
            "pipeline_id": f"pipeline-{len(self.pipelines) + 1}",
            "name": name,
            "display_name": body.get("display_name") or name,
            "namespace": "",  # single-user: ReplaceNamespace
        }
        self.pipelines[pipeline["pipeline_id"]] = pipeline
        return 200, pipeline

    def _upload_version(self, request: Request) -> tuple[int, dict]:
        """2.17.0 server/pipeline_upload_server.go uploadPipelineVersion: the file in form field
        `uploadfile`, the pipeline in query `pipelineid`, the name from `name`, else `display_name`,
        else the file name (buildPipelineName); every refusal but the conflict is a 400 with the
        same message, the conflict (a version name the pipeline has) a 409."""
        refused = _upload_error(400, "Failed to create a pipeline version")
        upload = request.files.get("uploadfile")
        if upload is None or not upload.filename.endswith(SPEC_FILE_SUFFIXES):
            return refused
        pipeline_id = request.query.get("pipelineid", "")
        if pipeline_id not in self.pipelines:  # missing, or FetchNamespaceFromPipelineId fails
            return refused
        name = request.query.get("name") or request.query.get("display_name") or upload.filename
        if any(v["pipeline_id"] == pipeline_id and v["name"] == name for v in self.pipeline_versions.values()):
            return _upload_error(409, "Failed to create a pipeline version")
        version = {
            "pipeline_id": pipeline_id,
            "pipeline_version_id": f"version-{len(self.pipeline_versions) + 1}",
            "name": name,
            "display_name": request.query.get("display_name") or name,
            "description": request.query.get("description", ""),
        }
        self.pipeline_versions[version["pipeline_version_id"]] = {**version, "uploadfile": upload}
        return 200, version

    def _create_run(self, body: dict) -> tuple[int, dict]:
        if self.run_error:
            return _error(*self.run_error)
        # 2.17.0 run_server.go CreateRun and resource_manager.go CreateRun, which wrap these errors.
        unrunnable = None
        if body.get("pipeline_version_reference"):
            unrunnable = self._unknown_version(body)
        elif not body.get("pipeline_spec"):
            unrunnable = "Invalid input error: Failed to fetch a template with an empty pipeline spec manifest"
        if unrunnable:
            return _error(
                500,
                "Failed to create a new run: InternalServerError: Failed to create a run due to error fetching "
                f"manifest: {unrunnable}",
            )
        run = {**body, "run_id": f"run-{len(self.runs) + 1}", "state": "PENDING"}
        self.runs[run["run_id"]] = run
        return 200, run

    def _create_recurring_run(self, body: dict) -> tuple[int, dict]:
        """2.17.0 server/api_converter.go toModelJob (a name, 1 to 10 concurrent runs, a cron that
        robfig/cron's Parse takes) and server/job_server.go CreateRecurringRun, which wraps its errors."""
        conversion_error = "Failed to create a recurring run due to conversion error: "
        if not body.get("display_name"):
            return _error(500, conversion_error + "Invalid input error: Recurring run's name cannot be empty")
        max_concurrency = int(body.get("max_concurrency") or 0)
        if not 1 <= max_concurrency <= 10:
            return _error(
                400,
                conversion_error + "Invalid input error: Max concurrency of a recurring run must be at least 1 "
                f"and at most 10. Received {max_concurrency}",
            )
        cron = body.get("trigger", {}).get("cron_schedule", {}).get("cron")
        cron_error = None if cron is None else _cron_parse_error(cron)
        if cron_error:
            return _error(
                400,
                conversion_error + "Invalid input error: Schedule cron is not a supported "
                f"format(https://godoc.org/github.com/robfig/cron). Error: {cron_error}",
            )
        # 2.17.0 resource_manager.go CreateJob, wrapped by job_server.go CreateRecurringRun.
        unknown_version = self._unknown_version(body)
        if unknown_version:
            return _error(
                500,
                "Failed to create a recurring run: InternalServerError: Failed to create a recurring run with an "
                f"invalid pipeline spec manifest: {unknown_version}",
            )
        recurring_run = {
            **body,
            "recurring_run_id": f"recurring-run-{len(self.recurring_runs) + 1}",
            "status": "ENABLED",
        }
        self.recurring_runs[recurring_run["recurring_run_id"]] = recurring_run
        return 200, recurring_run

    def _unknown_version(self, body: dict) -> str | None:
        """Why the version a run refers to cannot be run, None when it can or none is referred to
        (2.17.0 resource_manager.go fetchPipelineVersionFromPipelineSpec)."""
        reference = body.get("pipeline_version_reference") or {}
        version_id, pipeline_id = reference.get("pipeline_version_id"), reference.get("pipeline_id")
        version = self.pipeline_versions.get(version_id or "")
        if version_id and version is None:
            return f"ResourceNotFoundError: PipelineVersion {version_id} not found"
        if version and pipeline_id and version["pipeline_id"] != pipeline_id:
            owner = version["pipeline_id"]
            return f"Invalid input error: Pipeline version {version_id} belongs to pipeline {owner} (not {pipeline_id})"
        return None


def _filter_values(query: dict[str, str], key: str) -> list[str]:
    """The values an EQUALS filter (kfp.Client's JSON `filter` query) gives `key`."""
    predicates = json.loads(query.get("filter", "{}")).get("predicates", [])
    return [predicate["stringValue"] for predicate in predicates if predicate["key"] == key]


def _cron_parse_error(cron: str) -> str | None:
    """robfig/cron v1.2.0 parser.go Parse as KFP calls it (Second | Minute | Hour | Dom | Month |
    DowOptional | Descriptor): a descriptor, or 5 to 6 fields, seconds first. Only the shape is
    checked, not each field's range."""
    if not cron:
        return "Empty spec string"
    if cron.startswith("@"):
        return None if cron in CRON_DESCRIPTORS or cron.startswith("@every ") else f"Unrecognized descriptor: {cron}"
    fields = len(cron.split())
    return None if 5 <= fields <= 6 else f"Expected 5 to 6 fields, found {fields}: {cron}"


def _error(status: int, message: str) -> tuple[int, dict]:
    """The grpc-gateway error body the KFP API answers with."""
    return status, {"error": message, "code": 16 if status == 401 else 3, "message": message}


def _upload_error(status: int, message: str) -> tuple[int, dict]:
    """The body of the upload endpoints' errors (2.17.0 pipeline_upload_server.go writeErrorToResponse):
    the message, and as details the message with its Go stack trace (`%+v` of a pkg/errors error)."""
    details = f"{message}\ngithub.com/kubeflow/pipelines/backend/src/apiserver/server.(*PipelineUploadServer)"
    return status, {"error_message": message, "error_details": details}


def _parse_body(content_type: str, raw_body: bytes) -> tuple[Any, dict[str, UploadedFile]]:
    """A JSON body, or a multipart form's files (what the upload endpoints take)."""
    if not content_type.startswith("multipart/form-data"):
        return (json.loads(raw_body) if raw_body else None), {}
    form = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw_body
    )
    files = {
        part.get_param("name", header="content-disposition"): UploadedFile(
            part.get_filename() or "", part.get_payload(decode=True)
        )
        for part in form.iter_parts()
        if part.get_filename() is not None
    }
    return None, files


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
            body, files = _parse_body(self.headers.get("Content-Type", ""), self.rfile.read(length) if length else b"")
            request = Request(
                method=self.command,
                path=parts.path,
                query={key: values[0] for key, values in parse_qs(parts.query, keep_blank_values=True).items()},
                body=body,
                headers={key.lower(): value for key, value in self.headers.items()},
                files=files,
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
