"""The HTTP server's settings, and its answer to a request it cannot parse, in the API's JSON error shape."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from api.errors import error_body

if TYPE_CHECKING:
    from starlette.types import ASGIApp

__all__ = ["UNPARSABLE_MESSAGE", "JsonErrorHttpProtocol", "server_config"]

UNPARSABLE_MESSAGE = (
    "The request could not be read as HTTP/1.1: it is malformed, or its request line or headers are "
    "larger than the parser accepts (about 64 KB). Send long inputs in a POST body."
)


class JsonErrorHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering an unparsable request with the API's JSON error body.

    uvicorn answers such a request itself, before the app sees it, in plain text; every
    other error of the API is JSON (`api.errors.error_body`), and clients and the OpenAPI
    document expect that shape.
    """

    def send_400_response(self, msg: str) -> None:
        """Write a 400 with the JSON error body (instead of uvicorn's ``msg``) and close the connection."""
        rid = uuid.uuid4().hex  # no request was read: an id of its own, as every error body has
        body = json.dumps(error_body(400, "bad_request", UNPARSABLE_MESSAGE, request_id=rid)).encode()
        content = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"x-request-id: " + rid.encode() + b"\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()


def server_config(
    app: ASGIApp, *, host: str, port: int, log_level: str = "info", access_log: bool = True
) -> uvicorn.Config:
    """Return the uvicorn configuration the service runs with (`venue-planner serve`, the tests)."""
    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level, http=JsonErrorHttpProtocol, access_log=access_log
    )
