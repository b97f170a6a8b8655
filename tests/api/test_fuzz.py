"""Schemathesis over the whole OpenAPI document, against a served instance on loopback (issue 11).

Bounded: a fixed seed, at most ``MAX_EXAMPLES`` cases per operation and phase, and
``MAX_SECONDS`` in all. Checks: no server error, every answer's status, content type and
body as documented. It prints how many 2xx answers each operation got, and requires at
least one for every compute operation (the request examples in the schemas make them).
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.app import create_app
from api.settings import REPO_ROOT, Settings
from tests.conftest import make_key, served_app

MAX_EXAMPLES = 12
MAX_SECONDS = 240
COMPUTE_OPERATIONS = [
    ("GET", "/routes"),
    ("POST", "/routes"),
    ("POST", "/routes/matrix"),
    ("POST", "/itineraries"),
    ("POST", "/isochrones"),
    ("POST", "/coverage"),
    ("POST", "/coverage/gaps"),
    ("POST", "/coverage/choose-sites"),
    ("GET", "/coverage/surface.tif"),
    ("POST", "/footprints/analyze"),
    ("POST", "/footprints/compare"),
    ("POST", "/footprints/buildable"),
    ("POST", "/footprints/setback"),
    ("POST", "/proposals"),
]


@pytest.fixture(scope="module")
def served(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    own = settings.model_copy(update={"data_dir": tmp_path_factory.mktemp("fuzz-data")})
    key = make_key(own.data_dir, "editor", "fuzzer")
    with served_app(create_app(own)) as url:
        yield url, key


def _operation(method: str, url: str, templates: list[tuple[str, re.Pattern[str]]]) -> str:
    path = url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
    path = "/" + path
    for template, pattern in templates:
        if pattern.fullmatch(path):
            return f"{method} {template}"
    return f"{method} {path}"


def test_schemathesis_finds_no_server_error_and_no_schema_violation(served: tuple[str, str], tmp_path: Path) -> None:
    url, key = served
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    har = tmp_path / "fuzz.har"
    cmd = [
        exe, "run", f"{url}/openapi.json", "-H", f"Authorization: Bearer {key}",
        "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        "--phases", "examples,coverage,fuzzing", "--max-examples", str(MAX_EXAMPLES), "--workers", "2",
        "--max-time", str(MAX_SECONDS), "--seed", "20261201", "--suppress-health-check", "all",
        "--request-timeout", "30", "--report", "har", "--report-har-path", str(har), "--no-color",
    ]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=MAX_SECONDS + 120, check=False)
    out = res.stdout + res.stderr
    (REPO_ROOT / "artifacts").mkdir(exist_ok=True)
    (REPO_ROOT / "artifacts" / "schemathesis.txt").write_text(out)
    with urllib.request.urlopen(f"{url}/openapi.json") as r:
        doc = json.load(r)
    templates = [
        (p, re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(p))))
        for p in sorted(doc["paths"], key=len, reverse=True)
    ]
    entries = json.loads(har.read_text())["log"]["entries"]
    ok: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for e in entries:
        op = _operation(e["request"]["method"], e["request"]["url"], templates)
        total[op] += 1
        ok[op] += 200 <= int(e["response"]["status"]) < 300
    print("\n2xx / requests per operation:")
    documented = {f"{m.upper()} {p}" for p, ops in doc["paths"].items() for m in ops}
    for op in sorted(documented):
        print(f"  {ok[op]:>5} / {total[op]:<5} {op}")
    summary = "\n".join(line for line in out.splitlines() if "failure" in line.lower() or "❌" in line)
    assert res.returncode == 0, f"schemathesis found failures (artifacts/schemathesis.txt):\n{summary}\n{out[-4000:]}"
    missing = [f"{m} {p}" for m, p in COMPUTE_OPERATIONS if ok[f"{m} {p}"] == 0]
    assert missing == [], f"compute operations with no accepted request: {missing}"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /routes?origin=" + b"9" * 100_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",  # past the parser's limit
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n",  # malformed
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",  # TLS spoken to plain HTTP
    ],
    ids=["100 KB request line", "malformed header", "TLS hello"],
)
def test_a_request_the_server_cannot_parse_gets_the_json_error(served: tuple[str, str], request_bytes: bytes) -> None:
    # uvicorn answers these itself, before the app; the answer still has the API's error shape.
    host, port = served[0].removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(request_bytes)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0] == "HTTP/1.1 400 Bad Request"
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    assert headers["content-type"] == "application/json"
    err = json.loads(body)["error"]
    assert (err["status"], err["code"]) == (400, "bad_request")
    assert "64 KB" in err["message"]
    assert err["request_id"] == headers["x-request-id"]  # the ErrorDetail schema requires it
    assert len(err["request_id"]) == 32
