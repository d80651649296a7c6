"""A stand-in Databricks workspace for tests: the few endpoints traces reaches through the real
databricks-sdk and mlflow clients, on 127.0.0.1, checking every request it gets.

It is not a Databricks emulator. It answers only what `traces init` / `traces status` / the
uploader's experiment lookup use, and records anything else (an unknown path, a missing or
unknown bearer token, a malformed body) in `errors`, which tests assert is empty. Tokens are
valid only if this server issued them: through its OIDC token endpoint (OAuth M2M, a service
principal) or through `issue_user_token` (what `databricks auth login` caches for a user; the
real CLI gets it through a browser login, which tests replace with a fake `databricks` script).
Plain http on loopback: databricks-sdk 0.156 and mlflow 3.17 accept an http:// host as it is.

Traces are not kept here: a workspace made with `backing=<url of an mlflow server>` checks a
trace search as Databricks would and forwards it to that server, which the test fills with the
engine. Its experiments are registered here under the same ids (`add_experiment(..., experiment_id=)`).
It answers the V4 long-running search as a workspace without V4 does (ENDPOINT_NOT_FOUND), so
clients fall back to V3 as they would there.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MLFLOW = "/api/2.0/mlflow/"
WORKSPACE_ID = "1234567890123456"
DESTINATION_TAG = "mlflow.experiment.databricksTraceDestinationPath"
SEARCH_KEYS = {"locations", "filter", "max_results", "order_by", "page_token"}


class Workspace:
    def __init__(self, backing=None):
        self.backing = backing       # URL of the mlflow server that holds the traces (None: no traces)
        self.tokens = {}             # access token -> user name (or service principal application id)
        self.expired = set()         # tokens the workspace now rejects as expired
        self.clients = {}            # OAuth M2M client id -> secret
        self.experiments = {}        # id -> {"name", "tags": {}}
        self.folders = {"/Workspace", "/Workspace/Shared", "/Workspace/Users"}
        self.read_only = set()       # folders (and everything under them) users may not write to
        self.trace_locations = {}    # "catalog.schema.prefix" -> linked experiment id
        self.requests = []           # (method, path) of every request
        self.errors = []             # what the server did not expect: tests assert it stays empty
        self._ids = itertools.count(1001)
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.host = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- test controls ------------------------------------------------------------------------

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def issue_user_token(self, user):
        token = "u2m-" + secrets.token_hex(8)
        self.tokens[token] = user
        self.folders.add("/Workspace/Users/" + user)
        return token

    def add_service_principal(self, application_id):
        secret = "dose-" + secrets.token_hex(12)
        self.clients[application_id] = secret
        self.folders.add("/Workspace/Users/" + application_id)
        return secret

    def add_experiment(self, name, tags=None, experiment_id=None):
        experiment_id = str(experiment_id or next(self._ids))
        self.experiments[experiment_id] = {"name": name, "tags": dict(tags or {})}
        return experiment_id

    def by_name(self, name):
        for experiment_id, experiment in self.experiments.items():
            if experiment["name"] == name:
                return experiment_id
        return None

    # -- request handling ---------------------------------------------------------------------

    def handle(self, method, path, query, headers, body):
        self.requests.append((method, path))
        if path == "/.well-known/databricks-config" and method == "GET":
            # Host metadata, unauthenticated: the SDK reads it before choosing how to sign in.
            return 200, {"oidc_endpoint": self.host + "/oidc", "workspace_id": WORKSPACE_ID, "cloud": "aws"}
        if path == "/oidc/.well-known/oauth-authorization-server" and method == "GET":
            return 200, {"issuer": self.host + "/oidc", "authorization_endpoint": self.host + "/oidc/v1/authorize",
                         "token_endpoint": self.host + "/oidc/v1/token"}
        if path == "/oidc/v1/token" and method == "POST":
            return self.token(headers, body)
        user = self.authenticate(headers)
        if isinstance(user, tuple):
            return user
        if path == "/api/2.0/preview/scim/v2/Me" and method == "GET":
            return 200, {"id": "4242", "userName": user, "displayName": user, "active": True,
                         "emails": [{"value": user, "primary": True}]}
        if path == "/api/2.0/workspace/mkdirs" and method == "POST":
            return self.mkdirs(user, self.json(body, ["path"]))
        if path.startswith(MLFLOW):
            return self.mlflow(user, method, path[len(MLFLOW):], query, body)
        if path == "/api/4.0/mlflow/traces/search-long-running" and method == "POST":
            # A workspace without the V4 search answers so, and clients fall back to V3: expected.
            if self.json(body, ["locations"]) is None:
                return 400, {}
            return 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": "No API found for 'POST /mlflow/traces/search-long-running'"}
        if path == "/api/3.0/mlflow/traces/search" and method == "POST":
            return self.search_traces(body)
        if path == "/api/5.0/mlflow/tracing/locations" and method == "POST":
            return self.create_trace_location(self.json(body, ["uc_table_prefix"]))
        if path.startswith("/api/5.0/mlflow/experiments/") and path.endswith("/trace-location:link") \
                and method == "POST":
            return self.link_trace_location(path.split("/")[5], self.json(body, ["experiment_id", "uc_table_prefix"]))
        return self.unexpected(f"unknown endpoint {method} {path}", 404)

    def unexpected(self, what, status=400):
        self.errors.append(what)
        return status, {"error_code": "ENDPOINT_NOT_FOUND" if status == 404 else "BAD_REQUEST", "message": what}

    def json(self, body, required):
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            data = None
        if not isinstance(data, dict) or any(key not in data for key in required):
            self.errors.append(f"malformed body {body!r}, expected keys {required}")
            return None
        return data

    def token(self, headers, body):
        """OAuth client credentials (M2M): the secret in a Basic header or in the form."""
        form = dict(urllib.parse.parse_qsl(body.decode()))
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = headers.get("Authorization", "")
        if basic.startswith("Basic "):
            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
        if form.get("grant_type") != "client_credentials" or "all-apis" not in form.get("scope", "").split():
            return self.unexpected(f"token request without client_credentials/all-apis: {form}")
        if not client_id or self.clients.get(client_id) != secret:
            return 401, {"error": "invalid_client", "error_description": "Client authentication failed"}
        token = "m2m-" + secrets.token_hex(8)
        self.tokens[token] = client_id
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": "all-apis"}

    def authenticate(self, headers):
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            self.errors.append(f"request without a bearer token: {auth[:20]!r}")
            return 401, {"error_code": "UNAUTHENTICATED",
                         "message": "Credential was not sent or was of an unsupported type for this API."}
        token = auth[7:]
        if token in self.expired:
            return 401, {"error_code": "UNAUTHENTICATED", "message": "Token is expired."}
        if token not in self.tokens:
            self.errors.append(f"unknown bearer token {token[:8]}…")
            return 401, {"error_code": "UNAUTHENTICATED", "message": "Invalid access token."}
        return self.tokens[token]

    def writable(self, user, path):
        if any(path == f or path.startswith(f + "/") for f in self.read_only):
            return False
        return path.startswith(("/Workspace/Shared/", f"/Workspace/Users/{user}/")) or path == f"/Workspace/Users/{user}"

    def mkdirs(self, user, data):
        if data is None:
            return 400, {}
        path = data["path"].rstrip("/")
        if not path.startswith("/Workspace/"):
            return self.unexpected(f"mkdirs outside /Workspace: {path}")
        if path in self.folders:
            return 200, {}
        if not self.writable(user, path):
            return 403, {"error_code": "PERMISSION_DENIED",
                         "message": f"{user} does not have Manage permissions on {path}."}
        parts = path.split("/")
        for i in range(2, len(parts) + 1):
            self.folders.add("/".join(parts[:i]))
        return 200, {}

    def experiment_json(self, experiment_id):
        experiment = self.experiments[experiment_id]
        return {"experiment_id": experiment_id, "name": experiment["name"], "lifecycle_stage": "active",
                "artifact_location": f"dbfs:/databricks/mlflow-tracking/{experiment_id}",
                "tags": [{"key": k, "value": v} for k, v in experiment["tags"].items()]}

    def mlflow(self, user, method, endpoint, query, body):
        missing = {"error_code": "RESOURCE_DOES_NOT_EXIST"}
        if endpoint == "experiments/get-by-name" and method == "GET":
            name = query.get("experiment_name")
            if not name:
                return self.unexpected("get-by-name without experiment_name")
            experiment_id = self.by_name(name)
            if experiment_id is None:
                return 404, {**missing, "message": f"Node named '{name}' does not exist."}
            return 200, {"experiment": self.experiment_json(experiment_id)}
        if endpoint == "experiments/get" and method == "GET":
            experiment_id = query.get("experiment_id")
            if experiment_id not in self.experiments:
                return 404, {**missing, "message": f"Node ID {experiment_id} does not exist."}
            return 200, {"experiment": self.experiment_json(experiment_id)}
        if endpoint == "experiments/search" and method == "POST":
            return self.search_experiments(self.json(body, []))
        if endpoint == "experiments/create" and method == "POST":
            data = self.json(body, ["name"])
            if data is None:
                return 400, {}
            name = data["name"]
            if not name.startswith("/Workspace/"):
                return self.unexpected(f"experiment name outside /Workspace: {name!r}")
            parent = name.rsplit("/", 1)[0]
            if parent not in self.folders:
                return 404, {**missing, "message": f"Parent directory {parent} does not exist."}
            if not self.writable(user, name):
                return 403, {"error_code": "PERMISSION_DENIED",
                             "message": f"User {user} does not have permission 'EDIT' on node {parent}"}
            if self.by_name(name):
                return 400, {"error_code": "RESOURCE_ALREADY_EXISTS", "message": f"Node named '{name}' already exists"}
            tags = {t["key"]: t["value"] for t in data.get("tags", [])}
            return 200, {"experiment_id": self.add_experiment(name, tags)}
        if endpoint == "experiments/set-experiment-tag" and method == "POST":
            data = self.json(body, ["experiment_id", "key", "value"])
            if data is None or data["experiment_id"] not in self.experiments:
                return self.unexpected(f"set-experiment-tag on unknown experiment {body!r}")
            self.experiments[data["experiment_id"]]["tags"][data["key"]] = data["value"]
            return 200, {}
        return self.unexpected(f"unknown MLflow endpoint {method} {endpoint}", 404)

    def search_experiments(self, data):
        """The active experiments, by id, in pages; max_results as MLflow bounds it."""
        if data is None:
            return 400, {}
        most = data.get("max_results", 1000)
        if set(data) - {"max_results", "view_type", "page_token", "filter", "order_by"} \
                or not isinstance(most, int) or not 0 < most <= 50000 \
                or data.get("view_type", "ACTIVE_ONLY") != "ACTIVE_ONLY" or data.get("filter"):
            return self.unexpected(f"experiments/search with {data}")
        ids = sorted(self.experiments, key=int)
        start = int(data.get("page_token") or 0)
        answer = {"experiments": [self.experiment_json(e) for e in ids[start:start + most]]}
        if start + most < len(ids):
            answer["next_page_token"] = str(start + most)
        return 200, answer

    def search_traces(self, body):
        """V3 trace search: checked as Databricks would, answered by the backing mlflow server."""
        data = self.json(body, ["locations"])
        if data is None:
            return 400, {}
        locations = data["locations"]
        wanted = [(loc.get("mlflow_experiment") or {}).get("experiment_id") for loc in locations
                  if isinstance(loc, dict) and loc.get("type") == "MLFLOW_EXPERIMENT"]
        most = data.get("max_results", 100)
        if set(data) - SEARCH_KEYS or not locations or len(wanted) != len(locations) \
                or any(e not in self.experiments for e in wanted):
            return self.unexpected(f"traces/search with {data}")
        if not isinstance(most, int) or not 0 < most <= 500:
            return self.unexpected(f"traces/search with max_results {most!r} (at most 500)")
        if self.backing is None:
            return self.unexpected("traces/search on a workspace without a backing server")
        request = urllib.request.Request(self.backing + "/api/3.0/mlflow/traces/search", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def create_trace_location(self, data):
        """MLflow's CreateLocation (a Unity Catalog table prefix); answers with the table names."""
        if data is None:
            return 400, {}
        prefix = data["uc_table_prefix"]
        if not all(prefix.get(k) for k in ("catalog_name", "schema_name", "table_prefix")):
            return self.unexpected(f"trace location without catalog/schema/prefix: {prefix}")
        full = f"{prefix['catalog_name']}.{prefix['schema_name']}.{prefix['table_prefix']}"
        self.trace_locations.setdefault(full, None)
        return 200, {"uc_table_prefix": {**prefix, "spans_table_name": full + "_otel_spans",
                                         "logs_table_name": full + "_otel_logs"}}

    def link_trace_location(self, experiment_id, data):
        if data is None:
            return 400, {}
        prefix = data["uc_table_prefix"]
        full = f"{prefix.get('catalog_name')}.{prefix.get('schema_name')}.{prefix.get('table_prefix')}"
        if experiment_id not in self.experiments or data["experiment_id"] != experiment_id \
                or full not in self.trace_locations:
            return self.unexpected(f"link of unknown experiment/location {experiment_id} {full}")
        self.trace_locations[full] = experiment_id
        self.experiments[experiment_id]["tags"][DESTINATION_TAG] = full
        return 200, {}


def _handler(workspace):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _serve(self):
            parts = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parts.query))
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with workspace._lock:
                status, payload = workspace.handle(self.command, parts.path, query, self.headers, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    return Handler
