"""Safe to expose: each finding of the security review as a regression test (issue 11).

Page injection is also checked in a real browser (tests/api/test_browser.py); here the
served HTML and the API's answers are checked directly.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import compute
from api.app import create_app
from api.compute import INLINE_JOB_BYTES, ComputePool
from api.errors import ApiError
from api.settings import Settings

if TYPE_CHECKING:
    from api.context import Context
from layers.keys import KeyStore
from tests.conftest import make_key

WANPING = {
    "type": "Polygon",
    "coordinates": [
        [[116.2264, 39.8484], [116.2284, 39.8484], [116.2284, 39.8499], [116.2264, 39.8499], [116.2264, 39.8484]]
    ],
}
HOSTILE_NAMES = [
    "${document.title=document.domain}",
    'it\'s "quoted" ${x} `tick`',
    "</script><script>document.title='pwned'</script>",
    "<img src=x onerror=alert(1)>",
    "{{ 7*7 }} {% if true %}jinja{% endif %}",
]


@pytest.fixture(scope="module")
def sec(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A warmed service with its own proposal store, an editor's, a viewer's and an admin's key."""
    own = settings.model_copy(update={"data_dir": tmp_path_factory.mktemp("security")})
    keys = {role: make_key(own.data_dir, role, f"sec-{role}") for role in ("viewer", "editor", "admin")}
    keys["data_dir"] = str(own.data_dir)
    with TestClient(create_app(own)) as c:
        yield c, keys


def auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def scribble(n: int, x0: float = 116.2264, y0: float = 39.8484) -> dict[str, Any]:
    """A ring of ``n`` vertices zig-zagging across itself (many self-intersections)."""
    pts = []
    for i in range(n):
        a = 2 * math.pi * i / n * 7  # seven turns: every edge crosses others
        r = 0.002 * (0.3 + 0.7 * ((i * 7919) % n) / n)
        pts.append([x0 + r * math.cos(a), y0 + r * math.sin(a)])
    pts.append(pts[0])
    return {"type": "Polygon", "coordinates": [pts]}


# -- 1. stored script injection --------------------------------------------------------


def test_hostile_names_never_reach_markup_or_script(sec: tuple[TestClient, dict[str, str]]) -> None:
    c, keys = sec
    for name in HOSTILE_NAMES:
        r = c.post("/proposals", json={"name": name, "footprint": WANPING}, headers=auth(keys["editor"]))
        assert r.status_code == 201, r.text
        assert r.json()["name"] == name  # stored as typed
    page = c.get("/maps/sites/lugou-wanping?basemap=none")
    assert page.status_code == 200
    html = page.text
    assert "</script><script>document.title" not in html
    assert "<img src=x" not in html
    assert "49 jinja" not in html  # no template evaluated a name
    # The data is there, escaped for a script element.
    assert "\\u003c/script\\u003e\\u003cscript\\u003edocument.title" in html
    # Every inline script carries this answer's nonce; none without it.
    csp = page.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([0-9a-f]+)'", csp)
    assert nonce is not None
    assert "script-src 'self' 'nonce-" in csp
    assert "unsafe-inline" not in csp.split("style-src")[0]
    tags = re.findall(r"<script\b[^>]*>", html)
    assert tags
    data_tag = '<script type="application/json" id="vp-page">'  # the page's data: JSON, never run
    assert tags.count(data_tag) == 1
    tags.remove(data_tag)
    for tag in tags:
        assert "src=" in tag or f'nonce="{nonce.group(1)}"' in tag, tag
    assert sum("src=" not in tag for tag in tags) == 2  # folium's settings and the page's own script, no more
    # The data block is one JSON document (nothing a planner typed can end it).
    block = re.search(r'<script type="application/json" id="vp-page">(.*?)</script>', html, re.S)
    assert block is not None
    assert json.loads(block.group(1))["draw"] == {"site": "lugou-wanping"}
    assert "__CSP_NONCE__" not in html
    assert not re.search(
        r"\son[a-z]+\s*=", re.sub(r"<script\b.*?</script>", "", html, flags=re.S)
    )  # no inline handlers
    # A second answer gets a fresh nonce.
    again = c.get("/maps/sites/lugou-wanping?basemap=none").headers["content-security-policy"]
    assert again != csp


def test_a_page_with_an_unexpected_script_is_refused() -> None:
    """Should an escape ever be missed, the page fails closed rather than give the script the nonce."""
    from api.maps.base import _new_map, _page, _Raw, _root

    m = _new_map((39.9, 116.4), basemap="none")
    assert _page(m, "test").count('nonce="__CSP_NONCE__"') == 2
    _root(m).html.add_child(_Raw("<script>document.title='x'</script>"))
    with pytest.raises(RuntimeError, match="3 bare <script> tags"):
        _page(m, "test")


def test_imported_hostile_id_is_refused(sec: tuple[TestClient, dict[str, str]], tmp_path: Path) -> None:
    c, keys = sec
    doc = _export_doc(pid="x' onmouseover='alert(1)")
    r = c.post("/proposals/import", files={"file": ("p.geojson", json.dumps(doc))}, headers=auth(keys["editor"]))
    assert r.status_code == 422
    assert "lower-case letters" in r.json()["error"]["message"]


# -- 2. reading server files --------------------------------------------------------------


def test_vrt_import_cannot_read_server_files(sec: tuple[TestClient, dict[str, str]]) -> None:
    c, keys = sec
    before = c.get("/proposals").json()
    vrt = (
        '<OGRVRTDataSource><OGRVRTLayer name="p"><SrcDataSource>CSV:/etc/passwd</SrcDataSource>'
        "</OGRVRTLayer></OGRVRTDataSource>"
    )
    for filename in ("p.vrt", "p.gpkg", "p.geojson"):
        r = c.post("/proposals/import", files={"file": (filename, vrt)}, headers=auth(keys["editor"]))
        assert r.status_code == 422, r.text
        msg = r.json()["error"]["message"]
        assert "neither a GeoPackage nor a GeoJSON" in msg
        assert "/tmp" not in msg
        assert "passwd" not in msg
    assert c.get("/proposals").json() == before


def _export_doc(pid: str = "imported-1", analysis: Any = None) -> dict[str, Any]:
    props = {
        "id": pid,
        "version": 1,
        "name": "Imported",
        "site_id": "wanping",
        "created_at": "2026-11-30T10:00:00+00:00",
        "version_created_at": "2026-11-30T10:00:00+00:00",
        "note": "created",
        "properties": json.dumps({"use": "museum"}),
        "analysis": json.dumps({"area_m2": 1.0} if analysis is None else analysis),
        "geometry_type": "Polygon",
    }
    return {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": WANPING, "properties": props}]}


# -- 3. a stored record that breaks pages ----------------------------------------------------


def test_list_analysis_is_refused_on_import(sec: tuple[TestClient, dict[str, str]]) -> None:
    c, keys = sec
    before = c.get("/proposals").json()
    doc = _export_doc(pid="list-analysis", analysis=[1, 2, 3])
    r = c.post("/proposals/import", files={"file": ("p.geojson", json.dumps(doc))}, headers=auth(keys["editor"]))
    assert r.status_code == 422
    assert "`analysis` must be a JSON object" in r.json()["error"]["message"]
    assert c.get("/proposals").json() == before


def test_a_malformed_stored_record_does_not_break_pages(sec: tuple[TestClient, dict[str, str]]) -> None:
    c, keys = sec
    r = c.post("/proposals", json={"name": "to be damaged", "footprint": WANPING}, headers=auth(keys["editor"]))
    pid = r.json()["id"]
    with sqlite3.connect(Path(keys["data_dir"]) / "proposals.sqlite") as con:  # a file written by hand or an old bug
        con.execute("UPDATE versions SET analysis = '[1, 2]', properties = '\"x\"' WHERE proposal_id = ?", (pid,))
    assert c.get("/proposals").status_code == 200
    assert c.get("/proposals", params={"site": "wanping"}).status_code == 200
    assert c.get("/maps/sites/lugou-wanping?basemap=none").status_code == 200
    assert c.get(f"/proposals/{pid}").json()["analysis"] == {}


# -- 4. unbounded work ---------------------------------------------------------------------


def test_large_self_intersecting_polygons_are_refused_with_where(sec: tuple[TestClient, dict[str, str]]) -> None:
    c, _ = sec
    poly = scribble(1000)
    assert len(json.dumps(poly)) > 30_000
    r = c.post("/footprints/analyze", json={"footprint": poly})
    assert r.status_code == 422
    msg = r.json()["error"]["message"]
    assert "Self-intersection" in msg
    assert "1001 vertices" in msg
    r = c.post(
        "/routes",
        json={"origin": "lugou-bridge", "destination": "beijing-west-station", "closures": {"areas": [poly]}},
    )
    assert r.status_code == 422
    assert "closures.areas[0]" in r.json()["error"]["message"]
    assert "Self-intersection" in r.json()["error"]["message"]


def test_closure_areas_have_a_vertex_limit(sec: tuple[TestClient, dict[str, str]]) -> None:
    c, _ = sec
    n = 2500
    ring = [
        [116.39 + 0.01 * math.cos(2 * math.pi * i / n), 39.90 + 0.01 * math.sin(2 * math.pi * i / n)] for i in range(n)
    ]
    ring.append(ring[0])
    r = c.post(
        "/routes",
        json={
            "origin": "temple-of-heaven",
            "destination": "jingshan",
            "closures": {"areas": [{"type": "Polygon", "coordinates": [ring]}]},
        },
    )
    assert r.status_code == 422
    assert "at most 2000 are allowed" in r.json()["error"]["message"]


# The pool's own tests run jobs that never read the context the workers inherit.
NO_CONTEXT = cast("Context", object())


def test_a_job_over_its_budget_is_killed_and_replaced() -> None:
    pool = ComputePool(workers=1, timeout_s=1.0)
    pool.start(NO_CONTEXT)
    try:
        assert pool.run(_double, 21) == 42
        with pytest.raises(ApiError) as err:
            pool.run(_sleep, 30.0)
        assert err.value.status == 504
        assert "time budget of 1 s" in err.value.message
        assert pool.killed == 1
        assert pool.run(_double, 2) == 4  # the replacement answers
        with pytest.raises(ZeroDivisionError):
            pool.run(_divide, 0)  # a job's exception comes back as itself
    finally:
        pool.close()


@pytest.mark.parametrize("uvloop", [False, True])
def test_a_job_awaited_in_the_event_loop_is_bounded_and_never_leaves_a_stale_answer(uvloop: bool) -> None:
    """`arun` (what every bounded route uses): budget, exceptions, big jobs and answers, callers that go away.

    Under uvloop too (what `venue-planner serve` runs on), which makes the descriptors it
    watches non-blocking: a big answer arrives in pieces.
    """
    import anyio

    pool = ComputePool(workers=1, timeout_s=1.0)
    pool.start(NO_CONTEXT)

    async def scenario() -> None:
        assert await pool.arun(_double, 21) == 42
        with pytest.raises(ApiError) as err:
            await pool.arun(_sleep, 30.0)
        assert err.value.status == 504
        assert pool.killed == 1
        with pytest.raises(ZeroDivisionError):
            await pool.arun(_divide, 0)
        big = "x" * (INLINE_JOB_BYTES + 1)  # handed over from a thread
        assert await pool.arun(_double, big) == big + big
        assert await pool.arun(_double, "y" * 4_000_000) == "y" * 8_000_000  # an answer of 8 MB
        # A caller cancelled while its job runs: the answer is still read, so the next job gets its own.
        with anyio.move_on_after(0.1):
            await pool.arun(_sleep, 0.5)
        assert await pool.arun(_double, 5) == 10

    try:
        anyio.run(scenario, backend_options={"use_uvloop": uvloop})
    finally:
        pool.close()


def test_a_worker_imports_what_the_warm_up_left_only_when_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    # Stand-ins for the deferred modules that this test process has not imported (the workers fork from it).
    deferred = ("tabnanny", "pyclbr", "sched")
    assert not any(m in sys.modules for m in deferred)
    monkeypatch.setattr(compute, "_DEFERRED_IMPORTS", deferred)
    pool = ComputePool(workers=1, timeout_s=5.0)
    pool.start(NO_CONTEXT)
    try:
        # Jobs in a row: none waits for an import (the worker is never idle for a second).
        for _ in range(5):
            assert pool.run(_imported, deferred) == [False] * len(deferred)
        time.sleep(compute._IDLE_IMPORT_S * len(deferred) + 3.0)  # idle: it imports them, one by one
        assert pool.run(_imported, deferred) == [True] * len(deferred)
    finally:
        pool.close()


def _imported(_: object, names: tuple[str, ...]) -> list[bool]:
    return [n in sys.modules for n in names]


def _double(_: object, x: Any) -> Any:
    return 2 * x


def _sleep(_: object, s: float) -> float:
    import time

    time.sleep(s)
    return s


def _divide(_: object, x: int) -> float:
    return 1 / x


# -- 5. size limits -------------------------------------------------------------------------


def test_bodies_over_the_limits_get_413(sec: tuple[TestClient, dict[str, str]]) -> None:
    c, keys = sec
    big = b'{"origin": "' + b"x" * 6_000_000 + b'"}'
    r = c.post("/routes", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "body_too_large"
    upload = b"\0" * 21_000_000
    r = c.post("/proposals/import", files={"file": ("big.gpkg", upload)}, headers=auth(keys["editor"]))
    assert r.status_code == 413
    assert "/tmp" not in r.json()["error"]["message"]


# -- 6. NaN and Infinity -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/routes", "/itineraries"])
@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_422(sec: tuple[TestClient, dict[str, str]], path: str, constant: str) -> None:
    c, _ = sec
    ring = f"[[116.39, 39.90], [116.40, 39.90], [116.40, {constant}], [116.39, 39.90]]"
    area = '{"type": "Polygon", "coordinates": [' + ring + "]}"
    places = (
        '"origin": "jingshan", "destination": "temple-of-heaven"'
        if path == "/routes"
        else '"stops": ["jingshan", "temple-of-heaven"]'
    )
    body = "{" + places + ', "closures": {"areas": [' + area + "]}}"
    r = c.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_json"
    assert constant.lstrip("-") in r.json()["error"]["message"]


# -- 7. lost updates ----------------------------------------------------------------------------


def test_concurrent_edits_never_lose_one_silently(sec: tuple[TestClient, dict[str, str]]) -> None:
    c, keys = sec
    h = auth(keys["editor"])
    pid = c.post("/proposals", json={"name": "contested", "footprint": WANPING}, headers=h).json()["id"]
    lost = 0
    for i in range(100):
        cur = c.get(f"/proposals/{pid}")
        etag = cur.headers["etag"]
        results: dict[str, Any] = {}

        def edit(field: str, value: str, etag: str = etag, results: dict[str, Any] = results) -> None:
            r = c.put(f"/proposals/{pid}", json={field: value}, headers={**h, "if-match": etag})
            results[field] = r

        a = threading.Thread(target=edit, args=("name", f"name {i}"))
        b = threading.Thread(target=edit, args=("note", f"note {i}"))
        a.start(), b.start()
        a.join(), b.join()
        codes = sorted(r.status_code for r in results.values())
        assert codes == [200, 412], codes  # one wins; the other is told, never silently dropped
        loser = next(r for r in results.values() if r.status_code == 412)
        assert loser.json()["error"]["code"] == "version_conflict"
        assert loser.json()["error"]["current_version"] == cur.json()["version"] + 1
        latest = c.get(f"/proposals/{pid}").json()
        winner = next(k for k, r in results.items() if r.status_code == 200)
        expected = f"{winner} {i}"
        lost += (latest["name"] if winner == "name" else latest["note"]) != expected
    assert lost == 0
    # Without a base version the edit is refused (428), and nothing is written.
    before = c.get(f"/proposals/{pid}").json()["version"]
    r = c.put(f"/proposals/{pid}", json={"name": "blind"}, headers=h)
    assert r.status_code == 428
    assert c.get(f"/proposals/{pid}").json()["version"] == before


# -- 8. who may write ---------------------------------------------------------------------------


def test_writes_need_an_editor_key(sec: tuple[TestClient, dict[str, str]]) -> None:
    c, keys = sec
    body = {"name": "anonymous", "footprint": WANPING}
    before = len(c.get("/proposals").json())
    r = c.post("/proposals", json=body)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["error"]["code"] == "unauthorized"
    r = c.post("/proposals", json=body, headers=auth(keys["viewer"]))
    assert r.status_code == 403
    assert "viewer" in r.json()["error"]["message"]
    assert c.post("/proposals", json=body, headers=auth("vp_not-a-real-key")).status_code == 401
    assert c.post("/proposals", json=body, headers={"authorization": "Basic dXNlcjpwdw=="}).status_code == 401
    pid = c.post("/proposals", json=body, headers=auth(keys["admin"])).json()["id"]
    for method, url, kw in (
        ("put", f"/proposals/{pid}", {"json": {"name": "x", "base_version": 1}}),
        ("delete", f"/proposals/{pid}", {}),
        ("post", f"/proposals/{pid}/restore", {"json": {"version": 1}}),
        ("post", f"/proposals/{pid}/undelete", {}),
        ("post", "/proposals/import", {"files": {"file": ("p.geojson", json.dumps(_export_doc("anon")))}}),
    ):
        assert getattr(c, method)(url, **kw).status_code == 401, url
        assert getattr(c, method)(url, headers=auth(keys["viewer"]), **kw).status_code == 403, url
    assert len(c.get("/proposals").json()) == before + 1
    assert c.get(f"/proposals/{pid}").json()["author"] == "sec-admin"


def test_a_revoked_key_stops_working(sec: tuple[TestClient, dict[str, str]]) -> None:
    c, keys = sec
    store = KeyStore(Path(keys["data_dir"]) / "keys.sqlite")
    key = store.add("short-lived", role="editor")
    assert c.post("/proposals", json={"name": "a", "footprint": WANPING}, headers=auth(key)).status_code == 201
    store.revoke("short-lived")
    assert c.post("/proposals", json={"name": "b", "footprint": WANPING}, headers=auth(key)).status_code == 401
    listed = {k.name: k for k in store.list()}
    assert listed["short-lived"].revoked_at is not None
    raw = (Path(keys["data_dir"]) / "keys.sqlite").read_bytes()
    assert key.encode() not in raw  # stored hashed only


def test_unknown_hosts_are_refused(sec: tuple[TestClient, dict[str, str]]) -> None:
    c, _ = sec
    r = c.get("/health", headers={"host": "attacker.example:8000"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_host"
    assert c.get("/health", headers={"host": "localhost:8000"}).status_code == 200


@pytest.fixture(scope="module")
def light(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    """A service that loads nothing at start-up, with a CORS allow-list and a route that fails."""
    own = settings.model_copy(
        update={
            "data_dir": tmp_path_factory.mktemp("light"),
            "preload_networks": False,
            "compute_workers": 0,
            "cors_origins": ["https://planner.example"],
            "require_key_for_reads": True,
        }
    )
    app: FastAPI = create_app(own)

    @app.get("/boom", include_in_schema=False)
    def boom() -> None:
        raise RuntimeError("secret internal detail /srv/app/config.py")

    own.data_dir.mkdir(parents=True, exist_ok=True)
    viewer = make_key(own.data_dir, "viewer")
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c, viewer


def test_cors_preflight_and_allow_list(light: tuple[TestClient, str]) -> None:
    light_client, _ = light
    ok = light_client.options(
        "/proposals",
        headers={"origin": "https://planner.example", "access-control-request-method": "POST",
                 "access-control-request-headers": "authorization, content-type"},
    )  # fmt: skip
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "https://planner.example"
    bad = light_client.options(
        "/proposals", headers={"origin": "https://evil.example", "access-control-request-method": "POST"}
    )
    assert "access-control-allow-origin" not in bad.headers


def test_reads_can_require_a_key(light: tuple[TestClient, str]) -> None:
    c, viewer = light
    assert c.get("/sites").status_code == 401
    assert c.get("/sites", headers=auth(viewer)).status_code == 200
    assert c.get("/health").status_code == 200  # health stays open


# -- 10. one error shape -------------------------------------------------------------------------


def test_every_error_has_the_one_shape(sec: tuple[TestClient, dict[str, str]], light: tuple[TestClient, str]) -> None:
    c, _ = sec
    light_client, viewer = light
    answers = [
        (c.get("/no/such/path"), 404, "not_found"),
        (c.delete("/health"), 405, "method_not_allowed"),
        (c.post("/routes", content=b"{not json", headers={"content-type": "application/json"}), 422, "invalid_json"),
        (c.post("/routes", json={"origin": "jingshan", "destination": "temple-of-heaven", "depart_at": "9:00"}),
         422, "invalid_request"),
        (c.post("/isochrones", json={"origin": "jingshan", "minutes": 15}), 422, "invalid_request"),
        (light_client.get("/boom", headers=auth(viewer)), 500, "internal_error"),
    ]  # fmt: skip
    for r, status, code in answers:
        assert r.status_code == status, r.text
        err = r.json()["error"]
        assert err["status"] == status
        assert err["code"] == code
        assert re.fullmatch(r"[0-9a-f]{32}", err["request_id"])
        assert r.headers["x-request-id"] == err["request_id"]
    assert "depart_at" in answers[3][0].json()["error"]["message"]
    assert "minutes" in answers[4][0].json()["error"]["message"]
    boom = answers[5][0].json()["error"]["message"]
    assert "secret" not in boom
    assert "RuntimeError" not in boom


def test_the_openapi_document_is_self_contained(sec: tuple[TestClient, dict[str, str]]) -> None:
    c, _ = sec
    doc = c.get("/openapi.json").json()
    text = json.dumps(doc)
    refs = set(re.findall(r'"\$ref": "([^"]+)"', text))
    assert refs
    for ref in refs:
        node: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]  # KeyError: a reference that resolves nowhere
    assert "$defs" not in text
    mappings = re.findall(r'"mapping": (\{[^}]*\})', text)
    for m in mappings:
        for ref in json.loads(m).values():
            assert ref.startswith("#/components/schemas/"), ref
    assert "bearer" in json.dumps(doc["components"]["securitySchemes"]).lower()


# -- 9. many proposals ----------------------------------------------------------------------------


def test_a_site_page_with_2000_proposals_stays_light(sec: tuple[TestClient, dict[str, str]]) -> None:
    c, keys = sec
    from layers.proposals import ProposalStore

    store = ProposalStore(Path(keys["data_dir"]) / "proposals.sqlite")
    import shapely

    base = shapely.geometry.shape(WANPING)
    analysis = {"area_m2": 3400.0, "conflicts": [{"severity": "high", "kind": "heritage", "message": "overlaps X"}]}
    before = store.count_by_site().get("wanping", 0)
    for i in range(2000):
        geom = shapely.affinity.translate(base, 0.0001 * (i % 40), 0.0001 * (i // 40))
        store.create(name=f"bulk {i}", geometry=geom, properties={}, analysis=analysis, site_id="wanping")
    assert store.count_by_site()["wanping"] == before + 2000
    page = c.get("/maps/sites/lugou-wanping?basemap=none")
    assert page.status_code == 200
    assert f"Saved proposals ({before + 2000 + _others(c)})" in page.text
    assert len(page.content) < 3_000_000
    index = c.get("/maps?basemap=none")
    assert index.status_code == 200


def _others(c: TestClient) -> int:
    """Live proposals of the Lugou site and its sub-sites other than Wanping."""
    return sum(1 for p in c.get("/proposals").json() if p["site_id"] in ("lugou-wanping", "lugou-bridge"))


def test_geojson_export_streams_and_reimports_losslessly(
    sec: tuple[TestClient, dict[str, str]], tmp_path: Path
) -> None:
    c, keys = sec
    h = auth(keys["editor"])
    pid = c.post("/proposals", json={"name": "exported", "footprint": WANPING, "floors": 2}, headers=h).json()["id"]
    c.put(f"/proposals/{pid}", json={"note": "second", "base_version": 1}, headers=h)
    with c.stream("GET", "/proposals/export", params={"format": "geojson"}) as r:
        assert r.status_code == 200
        assert "content-length" not in r.headers  # streamed
        body = b"".join(r.iter_bytes())
    doc = json.loads(body)
    assert "OpenStreetMap" in doc["attribution"]
    path = tmp_path / "export.geojson"
    path.write_bytes(body)
    from layers.proposals import ProposalStore

    copy = ProposalStore(tmp_path / "copy.sqlite")
    assert copy.import_file(path) == len(doc["features"])
    original = {
        (p.id, p.version): p for p in ProposalStore(Path(keys["data_dir"]) / "proposals.sqlite").iter_versions()
    }
    again = {(p.id, p.version): p for p in copy.iter_versions()}
    assert set(again) == set(original)
    a, b = original[(pid, 2)], again[(pid, 2)]
    assert (a.name, a.note, a.author, a.properties, a.analysis, a.created_at, a.updated_at) == (
        b.name, b.note, b.author, b.properties, b.analysis, b.created_at, b.updated_at,
    )  # fmt: skip
    assert a.geometry.equals(b.geometry)


@pytest.mark.parametrize("path", ["/routes", "/proposals", "/impact", "/plans", "/plans/import"])
def test_json_nested_past_the_parser_is_a_400(sec: tuple[TestClient, dict[str, str]], path: str) -> None:
    c, keys = sec
    h = auth(keys["editor"])
    for body in (b"[" * 50_000 + b"]" * 50_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000):
        r = c.post(path, content=body, headers={**h, "content-type": "application/json"})
        assert r.status_code == 400
        err = r.json()["error"]
        assert err["code"] == "too_deep"
        assert "nested deeper" in err["message"]
        assert err["request_id"]


def test_an_uploaded_file_nested_past_the_parser_is_a_400(sec: tuple[TestClient, dict[str, str]]) -> None:
    c, keys = sec
    h = auth(keys["editor"])
    deep = b'{"type": "FeatureCollection", "features": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    before = c.get("/proposals").json()
    r = c.post("/proposals/import", files={"file": ("deep.geojson", deep)}, headers=h)
    assert r.status_code == 422, r.text
    assert "nested deeper than this service parses; nothing was imported" in r.json()["error"]["message"]
    assert c.get("/proposals").json() == before  # nothing stored
