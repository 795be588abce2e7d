"""The fleet API on loopback: HTTP requests become API Gateway REST (v1 proxy) events for the
fleet-api function, after the bearer token is checked like the Cognito authorizer checks it.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3

from laddvakt.local.auth import InvalidToken, authorizer_claims, verify_token

log = logging.getLogger("laddvakt.local.api")
STAGE = "v1"


def proxy_event(
    method: str, raw_path: str, headers: dict[str, str], body: bytes, claims: dict[str, str]
) -> dict[str, Any]:
    parsed = urllib.parse.urlsplit(raw_path)
    path = urllib.parse.unquote(parsed.path)
    if path == f"/{STAGE}" or path.startswith(f"/{STAGE}/"):
        path = path[len(STAGE) + 1 :] or "/"
    query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
    text_body: str | None = None
    encoded = False
    if body:
        try:
            text_body = body.decode()
        except UnicodeDecodeError:
            text_body, encoded = base64.b64encode(body).decode(), True
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "body": text_body,
        "isBase64Encoded": encoded,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/{STAGE}{path}",
            "stage": STAGE,
            "requestId": str(uuid.uuid4()),
            "accountId": "123456789012",
            "apiId": "local",
            "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": {"claims": claims},
        },
    }


class LocalApiGateway:
    def __init__(
        self, host: str, port: int, function_name: str, endpoint_url: str, region: str, state_dir: Path
    ) -> None:
        lambda_client = boto3.client("lambda", endpoint_url=endpoint_url, region_name=region)
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                log.debug(format, *args)

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                authorization = self.headers.get("Authorization", "")
                token = authorization.removeprefix("Bearer ").strip()
                try:
                    if not authorization.startswith("Bearer ") or not token:
                        raise InvalidToken("no bearer token")
                    claims = authorizer_claims(verify_token(token, state_dir=gateway.state_dir))
                except InvalidToken:
                    self._answer(401, {"Content-Type": "application/json"}, b'{"message":"Unauthorized"}')
                    return
                event = proxy_event(self.command, self.path, dict(self.headers.items()), body, claims)
                result = lambda_client.invoke(FunctionName=function_name, Payload=json.dumps(event).encode())
                payload = json.loads(result["Payload"].read() or b"{}")
                if "FunctionError" in result or "statusCode" not in payload:
                    log.error("fleet API function failed: %s", payload)
                    self._answer(
                        502, {"Content-Type": "application/json"}, b'{"message":"Internal server error"}'
                    )
                    return
                headers = dict(payload.get("headers") or {})
                for key, values in (payload.get("multiValueHeaders") or {}).items():
                    headers[key] = ",".join(values)
                response_body = payload.get("body") or ""
                data = (
                    base64.b64decode(response_body)
                    if payload.get("isBase64Encoded")
                    else response_body.encode()
                )
                self._answer(int(payload["statusCode"]), headers, data)

            def _refuse(self) -> None:
                # Methods a REST API's ANY method does not cover never reach the function.
                self._answer(
                    405,
                    {
                        "Content-Type": "application/json",
                        "Allow": "GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE",
                    },
                    b'{"message":"Method Not Allowed"}',
                )

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

            def __getattr__(self, name: str) -> Any:
                # Any other method (TRACE, CONNECT, made-up ones) is refused, never a 501.
                if name.startswith("do_"):
                    return self._refuse
                raise AttributeError(name)

        self.state_dir = state_dir
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fleet-api", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
