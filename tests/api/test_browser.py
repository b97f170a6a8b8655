"""Map pages in headless Chromium (Debian's chromium and chromium-driver)."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from api.app import create_app
from api.settings import REPO_ROOT, Settings
from layers.sites import SiteCatalog
from tests.conftest import make_key, served_app

pytestmark = pytest.mark.browser

ARTIFACTS = REPO_ROOT / "artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


KEYS: dict[str, str] = {}


@pytest.fixture(scope="module")
def base_url(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = settings.model_copy(update={"data_dir": tmp_path_factory.mktemp("browser-data")})
    KEYS["editor"] = make_key(settings.data_dir, "editor", "browser-editor")
    KEYS["data_dir"] = str(settings.data_dir)
    with served_app(create_app(settings), wait_s=120) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    if not Path(CHROMIUM).exists() or not Path(CHROMEDRIVER).exists():
        pytest.fail("Chromium is missing: apt-get install chromium chromium-driver (see the manual, Getting started)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--window-size=1400,900", "--disable-dev-shm-usage",
    ):  # fmt: skip
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    yield driver
    driver.quit()


def _load(browser: webdriver.Chrome, url: str, shot: str) -> dict[str, object]:
    browser.get_log("browser")  # drop what an earlier page left
    browser.get(url)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if browser.execute_script("return document.querySelectorAll('.leaflet-control-layers').length") > 0:
            break
        time.sleep(0.2)
    time.sleep(0.5)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / f"{shot}.png"))
    return {
        "errors": [e for e in browser.get_log("browser") if e["level"] == "SEVERE"],
        "paths": browser.execute_script("return document.querySelectorAll('path.leaflet-interactive').length"),
        "layers": browser.execute_script("return document.querySelector('.leaflet-control-layers').innerText"),
        "credit": browser.execute_script("return document.querySelector('.leaflet-control-attribution').innerText"),
    }


def test_index_page(browser: webdriver.Chrome, base_url: str) -> None:
    got = _load(browser, f"{base_url}/maps?basemap=none", "index")
    assert got["errors"] == []
    assert int(got["paths"]) >= 21  # every site outline is drawn
    assert "central-axis" in str(got["layers"])
    assert "© OpenStreetMap contributors" in str(got["credit"])
    labels = browser.execute_script(
        "return Array.from(document.querySelectorAll('.site-label')).map(e => e.textContent)"
    )
    assert "Yanqi Lake international conference centre" in labels
    assert len(labels) == 11  # the 5 candidate sites and the 6 supporting places, not the sub-sites
    shown = _shown_labels(browser)
    assert not _overlapping(shown), shown  # several sites lie within a few km: placed apart, or hidden
    for name in ("Beijing Central Axis", "Three Hills and Five Gardens", "Grand Canal (Tongzhou sub-centre)",
                 "Lugou Bridge and Wanping", "Yanqi Lake international conference centre"):  # fmt: skip
        assert name in shown  # the candidate sites are placed first
    # Zoomed in on the city, every label has room and none overlaps.
    browser.execute_script(
        "var p = JSON.parse(document.getElementById('vp-page').textContent); window[p.map].setView([39.9, 116.33], 11);"
    )
    time.sleep(1.0)
    near = _shown_labels(browser)
    assert not _overlapping(near), near
    assert {"Beijing South railway station", "Beijing West railway station", "Beijing Central Axis"} <= set(near)
    # The figures table folds away (it would cover the west of the map on a small screen).
    browser.find_element(By.CSS_SELECTOR, "#figures-toggle summary").click()
    assert not browser.find_element(By.ID, "site-figures").is_displayed()


def _shown_labels(browser: webdriver.Chrome) -> dict[str, tuple[float, float, float, float]]:
    """Return the visible site labels with their boxes on screen (left, top, right, bottom)."""
    got = browser.execute_script(
        "return Array.from(document.querySelectorAll('.site-label')).filter(e => getComputedStyle(e).visibility"
        " === 'visible').map(e => { var r = e.getBoundingClientRect(); return [e.textContent, r.left, r.top, r.right,"
        " r.bottom]; })"
    )
    return {str(n): (float(a), float(b), float(c), float(d)) for n, a, b, c, d in got}


def _overlapping(boxes: dict[str, tuple[float, float, float, float]]) -> list[tuple[str, str]]:
    """Return the pairs of boxes that overlap (brute force over all pairs)."""
    names = sorted(boxes)
    return [
        (a, b)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        if boxes[a][0] < boxes[b][2]
        and boxes[b][0] < boxes[a][2]
        and boxes[a][1] < boxes[b][3]
        and boxes[b][1] < boxes[a][3]
    ]


def test_the_layer_list_folds_on_a_small_screen(browser: webdriver.Chrome, base_url: str) -> None:
    expanded = "return document.querySelectorAll('.leaflet-control-layers-expanded').length"
    try:
        browser.set_window_size(900, 650)
        browser.get(f"{base_url}/maps/sites/three-hills-five-gardens?basemap=none")
        WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers"))
        time.sleep(0.5)
        assert browser.execute_script(expanded) == 0
        browser.save_screenshot(str(ARTIFACTS / "site-small-screen.png"))
    finally:
        browser.set_window_size(1400, 900)
    browser.get(f"{base_url}/maps/sites/three-hills-five-gardens?basemap=none")
    WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers"))
    time.sleep(0.5)
    assert browser.execute_script(expanded) == 1


def test_a_page_says_when_the_background_cannot_load(browser: webdriver.Chrome, base_url: str) -> None:
    # The tile server blocked, as it is on a machine without internet.
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*tile.openstreetmap.org*"]})
    try:
        browser.get(f"{base_url}/maps/sites/temple-of-heaven")
        notice = WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.ID, "tile-error-notice"))
        assert "could not load" in notice[0].text
        assert "basemap drawn from the shipped data" in notice[0].text
        time.sleep(2)
        browser.save_screenshot(str(ARTIFACTS / "tiles-offline.png"))
        # With no basemap chosen, nothing is asked of the tile server and no notice shows.
        browser.get(f"{base_url}/maps/sites/temple-of-heaven?basemap=none")
        time.sleep(1.5)
        assert browser.find_elements(By.ID, "tile-error-notice") == []
    finally:
        browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})


_COUNT_BASEMAP_PIXELS = """
var page = JSON.parse(document.getElementById('vp-page').textContent);
var layer = window[page.basemap], map = window[page.map];
if (!map.hasLayer(layer)) { return null; }
var road = 0, text = 0, tiles = 0;
layer.getContainer().querySelectorAll('canvas').forEach(function (c) {
  if (!c.width) { return; }
  tiles += 1;
  var px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (var i = 0; i < px.length; i += 4) {
    var r = px[i], g = px[i + 1], b = px[i + 2];
    if (r > 235 && g > 185 && g < 230 && b > 100 && b < 160) { road += 1; }  // primary and secondary roads
    if (r < 80 && g < 80 && b < 80 && Math.abs(r - g) < 8 && Math.abs(g - b) < 8) { text += 1; }  // names
  }
});
return {tiles: tiles, road: road, text: text};
"""


def test_offline_the_planner_draws_streets_and_their_names_from_the_shipped_data(
    browser: webdriver.Chrome, base_url: str
) -> None:
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*tile.openstreetmap.org*"]})
    try:
        browser.get(f"{base_url}/maps/planner")
        WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.ID, "tile-error-notice"))
        drawn = "return document.querySelectorAll('path.leaflet-interactive').length"
        before = browser.execute_script(drawn)
        browser.find_element(By.ID, "pick-go").click()  # Capital Airport to the Forbidden City, as the form offers
        WebDriverWait(browser, 30).until(lambda b: b.execute_script(drawn) > before)
        browser.execute_script("window[JSON.parse(document.getElementById('vp-page').textContent).map]"
                               ".setView([39.9075, 116.3975], 15)")  # fmt: skip
        time.sleep(4)
        got = browser.execute_script(_COUNT_BASEMAP_PIXELS)
        browser.save_screenshot(str(ARTIFACTS / "planner-offline-basemap.png"))
        assert got is not None, "the page did not switch to the offline basemap"
        assert got["tiles"] >= 4
        assert got["road"] > 2000  # Chang'an Avenue and the roads round the palace, in their class colours
        assert got["text"] > 300  # street and station names along them
        layers = browser.execute_script("return document.querySelector('.leaflet-control-layers').textContent")
        assert "Basemap from the shipped data (offline)" in layers
        credit = browser.execute_script("return document.querySelector('.leaflet-control-attribution').innerText")
        assert "© OpenStreetMap contributors" in credit
        # A page asked for the local basemap draws it with the network cut and never tries the tile server.
        for page in ("/maps?basemap=local", "/maps/impact?basemap=local", "/maps/sites/central-axis?basemap=local"):
            browser.get(f"{base_url}{page}")
            time.sleep(3)
            assert browser.find_elements(By.ID, "tile-error-notice") == [], page
            drawn = browser.execute_script(_COUNT_BASEMAP_PIXELS)
            assert drawn is not None, page
            assert drawn["tiles"] >= 1, page
            name = page.split("?")[0].strip("/").replace("/", "-")
            browser.save_screenshot(str(ARTIFACTS / f"{name}-local-basemap.png"))
    finally:
        browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})


def test_every_site_page(browser: webdriver.Chrome, base_url: str, settings: Settings) -> None:
    from api.context import Context

    sites: SiteCatalog = Context.from_settings(settings).sites
    for sid in sites.ids():
        got = _load(browser, f"{base_url}/maps/sites/{sid}?basemap=none", f"site-{sid}")
        assert got["errors"] == [], sid
        assert int(got["paths"]) >= 1, sid
        assert "Site boundary" in str(got["layers"]), sid
        assert "© OpenStreetMap contributors" in str(got["credit"]), sid
        legend = browser.execute_script("return document.getElementById('site-legend').innerText")
        assert "Map key" in legend, sid
        assert "Saved proposals" in str(got["layers"]), sid
        assert "Population density" in str(got["layers"]), sid
        controls = browser.execute_script(
            "return ['.leaflet-control-scale', '.polyline-measure-unicode-icon', '.leaflet-control-minimap',"
            " '.leaflet-draw', '[class*=fullscreen]'].map(function (c) { return !!document.querySelector(c); })"
        )
        assert all(controls), (sid, controls)
        if sid in {"grand-canal", "yanqi-lake", "daxing-airport"}:  # on the regional skeleton only
            assert "≤ 90 min" in legend, sid
            assert "coarse: regional skeleton" in legend, sid
            assert "Within 60 min (drive)" in str(got["layers"]), sid
            assert "Major roads, regional skeleton" in str(got["layers"]), sid
            notice = browser.execute_script("return document.getElementById('coverage-notice').innerText")
            assert "coarse regional skeleton" in notice, sid
        else:
            assert "Within 15 min" in str(got["layers"]), sid
            assert "≤ 15 min" in legend, sid
        if sid == "central-axis":
            assert "Within 15 min (drive)" in str(got["layers"])
            assert "Roads, drive" in str(got["layers"])
            assert "Subway stations (43)" in str(got["layers"])
            assert int(got["paths"]) > 1000


def test_draw_a_footprint_and_save_it(browser: webdriver.Chrome, base_url: str) -> None:
    got = _load(browser, f"{base_url}/maps/sites/lugou-wanping?basemap=none", "draw-before")
    assert got["errors"] == []
    browser.find_element(By.CSS_SELECTOR, ".leaflet-draw-draw-rectangle").click()
    body = browser.find_element(By.CSS_SELECTOR, ".leaflet-container")
    size = body.size
    chain = ActionChains(browser)
    chain.move_to_element_with_offset(body, -size["width"] // 10, size["height"] // 10)
    chain.click_and_hold().move_by_offset(60, 30).move_by_offset(60, 30).release().perform()
    area = WebDriverWait(browser, 30).until(lambda b: b.find_element(By.ID, "fp-area").text)
    assert area.endswith("m²")
    assert float(area.split()[0].replace(",", "")) > 100
    conflicts = browser.find_element(By.ID, "fp-conflicts").text
    assert conflicts  # a list, even if it says there are none
    browser.find_element(By.ID, "fp-name").send_keys("Drawn in the browser test")
    browser.find_element(By.ID, "fp-save").click()  # no key yet: the panel asks for one, nothing is sent
    assert "API key" in WebDriverWait(browser, 10).until(lambda b: b.find_element(By.ID, "fp-need-key").text)
    browser.find_element(By.ID, "fp-key").send_keys(KEYS["editor"])
    browser.find_element(By.ID, "fp-save").click()
    pid = WebDriverWait(browser, 30).until(lambda b: b.find_element(By.ID, "fp-saved-id").text)
    browser.save_screenshot(str(ARTIFACTS / "draw-after.png"))
    with urllib.request.urlopen(f"{base_url}/proposals/{pid}") as r:
        saved = json.load(r)
    assert saved["name"] == "Drawn in the browser test"
    assert saved["site_id"] == "lugou-wanping"
    assert saved["analysis"]["area_m2"] == pytest.approx(float(area.split()[0].replace(",", "")), abs=1)
    # The next load of the page draws it.
    got = _load(browser, f"{base_url}/maps/sites/lugou-wanping?basemap=none", "draw-saved")
    assert "Saved proposals (1)" in str(got["layers"])


def test_coverage_page(browser: webdriver.Chrome, base_url: str) -> None:
    got = _load(browser, f"{base_url}/maps/coverage?basemap=none", "coverage")
    assert got["errors"] == []
    assert "Townships by covered share" in str(got["layers"])
    assert "Union" in str(got["layers"])
    assert int(got["paths"]) > 100  # every assessed township is drawn
    summary = browser.execute_script("return document.getElementById('gap-summary').innerText")
    assert "townships in the network" in summary
    legend = browser.execute_script("return document.getElementById('coverage-legend').innerText")
    assert "gap" in legend


def test_impact_page(browser: webdriver.Chrome, base_url: str) -> None:
    got = _load(browser, f"{base_url}/maps/impact?basemap=none", "impact-changan")
    assert got["errors"] == []
    layers = browser.execute_script("return document.querySelector('.leaflet-control-layers').textContent")
    assert "Mean delay per trip" in layers
    assert "Closed roads" in layers
    assert "Most delayed trips (10)" in layers
    assert int(got["paths"]) > 100  # the townships, the closed roads, the trips
    table = browser.execute_script("return document.getElementById('impact-table').innerText")
    assert "西长安街街道" in table
    panel = browser.execute_script("return document.getElementById('site-panel').innerText")
    assert "person-hours lost on the day" in panel


def _wait_for_url(browser: webdriver.Chrome, part: str, seconds: float) -> None:
    """Wait until the page's address holds ``part`` (a submitted form's query), or fail saying where it is."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and part not in browser.current_url:
        time.sleep(0.2)
    assert part in browser.current_url, browser.current_url


def test_the_impact_page_takes_a_window_and_the_atlas_an_hour(browser: webdriver.Chrome, base_url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _load(browser, f"{base_url}/maps/impact?basemap=none", "impact-all-day")
    browser.execute_script(
        "const f = document.getElementById('impact-form');"
        "f.querySelector('[name=start]').value = '17:00'; f.querySelector('[name=end]').value = '17:02';"
    )
    Select(browser.find_element(By.NAME, "show")).select_by_value("car")
    browser.find_element(By.CSS_SELECTOR, "#impact-form button").click()
    _wait_for_url(browser, "start=17%3A00", 30)
    got = _load(browser, browser.current_url, "impact-hold-1700")
    assert got["errors"] == []
    panel = browser.execute_script("return document.getElementById('site-panel').innerText")
    assert "In force 17:00–17:02" in panel
    assert "waiting at held roads" in panel
    bars = browser.execute_script("return document.querySelectorAll('#impact-hours > div').length")
    assert bars == 24
    layers = browser.execute_script("return document.querySelector('.leaflet-control-layers').textContent")
    assert "Mean delay per trip, car" in layers
    atlas = _load(browser, f"{base_url}/maps/closure-cost?basemap=none", "closure-cost-0800")
    assert atlas["errors"] == []
    Select(browser.find_element(By.ID, "atlas-hour")).select_by_value("17")
    browser.find_element(By.CSS_SELECTOR, "#atlas-form button").click()
    _wait_for_url(browser, "hour=17", 60)
    atlas = _load(browser, browser.current_url, "closure-cost-1700")
    assert atlas["errors"] == []
    assert int(atlas["paths"]) > 1000
    assert "OpenStreetMap" in str(atlas["credit"])
    table = browser.execute_script("return document.getElementById('atlas-table').innerText")
    assert "person-h" in table


def test_motorcade_page(browser: webdriver.Chrome, base_url: str) -> None:
    url = f"{base_url}/maps/motorcade?origin=forbidden-city&destination=summer-palace&depart=17:30&basemap=none"
    got = _load(browser, url, "motorcade-palace-summer-palace")
    assert got["errors"] == []
    layers = browser.execute_script("return document.querySelector('.leaflet-control-layers').textContent")
    assert "Candidate routes" in layers
    assert "Held crossings of candidate" in layers
    assert "OpenStreetMap" in str(got["credit"])
    rows = browser.execute_script("return document.querySelectorAll('#motorcade-table tr').length")
    assert rows >= 3  # the header, the fastest, the cheapest
    # The candidate lines, the townships and one circle per held crossing are drawn.
    assert int(got["paths"]) > 30
    panel = browser.execute_script("return document.getElementById('motorcade-panel').innerText")
    assert "Recommended:" in panel
    # The form plans again for another convoy.
    box = browser.find_element(By.NAME, "vehicles")
    box.clear()
    box.send_keys("40")
    browser.find_element(By.CSS_SELECTOR, "#motorcade-form button").click()
    _wait_for_url(browser, "vehicles=40", 60)
    again = _load(browser, browser.current_url, "motorcade-40-vehicles")
    assert again["errors"] == []
    panel = browser.execute_script("return document.getElementById('motorcade-panel').innerText")
    assert "Convoy of 40" in panel


def test_route_planner_page(browser: webdriver.Chrome, base_url: str) -> None:
    url = f"{base_url}/maps/routes?origin=beijing-west-station&destination=temple-of-heaven&alternatives=3&basemap=none"
    got = _load(browser, url, "route-west-station-temple-of-heaven")
    assert got["errors"] == []
    assert int(got["paths"]) >= 3  # the best route and two alternatives
    assert "Best route" in str(got["layers"])
    rows = browser.execute_script("return document.querySelectorAll('#route-summary tr').length")
    assert rows == 4  # header and three routes


def _click(browser: webdriver.Chrome, dx: int, dy: int) -> None:
    """Click the map at an offset (pixels) from its centre."""
    body = browser.find_element(By.CSS_SELECTOR, ".leaflet-container")
    ActionChains(browser).move_to_element_with_offset(body, dx, dy).click().perform()


def test_route_planner_opens_ready(browser: webdriver.Chrome, base_url: str) -> None:
    got = _load(browser, f"{base_url}/maps/planner?basemap=none", "planner-open")
    assert got["errors"] == []
    a = browser.execute_script("return document.getElementById('pick-a').value")
    b = browser.execute_script("return document.getElementById('pick-b').value")
    assert (a, b) == ("capital-airport", "forbidden-city")
    assert int(got["paths"]) >= 22  # the site outlines and the edge of the street data
    browser.find_element(By.ID, "pick-go").click()  # the first click on Route answers
    rows = WebDriverWait(browser, 30).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, "#planner-table tr") or b.find_elements(By.ID, "planner-error")
    )
    assert browser.find_elements(By.ID, "planner-error") == []
    assert len(rows) >= 2


def test_route_planner_clicks(browser: webdriver.Chrome, base_url: str) -> None:
    got = _load(browser, f"{base_url}/maps/planner?basemap=none", "planner-before")
    assert got["errors"] == []
    before = int(got["paths"])
    _click(browser, -150, 40)  # west of Tiananmen
    _click(browser, 160, -60)  # north-east
    rows = WebDriverWait(browser, 30).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, "#planner-table tr") or b.find_elements(By.ID, "planner-error")
    )
    assert browser.find_elements(By.ID, "planner-error") == [], browser.find_element(By.ID, "planner-error").text
    assert len(rows) >= 2  # the header and at least the best route
    first = rows[1].text
    assert "min" in first
    assert "km" in first
    time.sleep(0.5)
    browser.save_screenshot(str(ARTIFACTS / "planner-route.png"))
    after = browser.execute_script("return document.querySelectorAll('path.leaflet-interactive').length")
    assert after >= before + 1 + 2  # a route line and the two snapped endpoints
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_isochrone_page_click(browser: webdriver.Chrome, base_url: str) -> None:
    got = _load(browser, f"{base_url}/maps/isochrones?basemap=none", "isochrones-before")
    assert got["errors"] == []
    _click(browser, 0, 0)
    rows = WebDriverWait(browser, 30).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, "#planner-table tr") or b.find_elements(By.ID, "planner-error")
    )
    assert browser.find_elements(By.ID, "planner-error") == []
    assert len(rows) == 4  # the four default bands
    assert "M people" in rows[0].text
    time.sleep(0.5)
    browser.save_screenshot(str(ARTIFACTS / "isochrones-click.png"))


def test_api_docs_page_works_offline(browser: webdriver.Chrome, base_url: str) -> None:
    browser.get_log("browser")
    browser.get(f"{base_url}/docs")
    ops = WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".opblock"))
    assert len(ops) > 30  # every operation is listed
    scripts = browser.execute_script("return Array.from(document.scripts).map(function (s) { return s.src; })")
    assert all(s == "" or s.startswith(base_url) for s in scripts)  # nothing from a CDN
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    browser.save_screenshot(str(ARTIFACTS / "docs.png"))


HOSTILE = [
    "${document.title=document.domain}",
    "quote ' \" ${x} `tick` \\",
    "</script><script>document.title='pwned'</script>",
    "<img src=x onerror=\"document.title='img'\">",
]


def test_hostile_proposal_names_are_shown_as_text(browser: webdriver.Chrome, base_url: str) -> None:
    """Issue 11, finding 1: names with ${, quotes and </script> neither run nor break the page."""
    square = [[116.2264, 39.8484], [116.2284, 39.8484], [116.2284, 39.8499], [116.2264, 39.8499], [116.2264, 39.8484]]
    for name in HOSTILE:
        req = urllib.request.Request(
            f"{base_url}/proposals",
            data=json.dumps({"name": name, "footprint": {"type": "Polygon", "coordinates": [square]}}).encode(),
            headers={"content-type": "application/json", "authorization": f"Bearer {KEYS['editor']}"},
            method="POST",
        )
        with urllib.request.urlopen(req) as r:
            assert r.status == 201
    with urllib.request.urlopen(f"{base_url}/proposals?site=lugou-wanping") as r:
        saved = len(json.load(r))
    got = _load(browser, f"{base_url}/maps/sites/lugou-wanping?basemap=none", "hostile-names")
    assert got["errors"] == []  # no CSP violation, no broken script
    assert browser.title == "Lugou Bridge and Wanping — venue planner"
    assert f"Saved proposals ({saved})" in str(got["layers"])  # every proposal is drawn
    # Open each proposal's popup: the name shows exactly as typed.
    shown = browser.execute_script(
        "var out = []; window.plannerMap.eachLayer(function (l) {"
        "  if (l.feature && l.feature.properties && l.feature.properties.versions) {"
        "    l.openPopup(); var el = l.getPopup().getElement().querySelector('.proposal-name');"
        "    if (el) { out.push(el.textContent); } l.closePopup(); } });"
        "return out;"
    )
    for name in HOSTILE:
        assert name in shown
    assert browser.title == "Lugou Bridge and Wanping — venue planner"
    try:
        alert = browser.switch_to.alert
        pytest.fail(f"a dialog opened: {alert.text}")
    except NoAlertPresentException:
        pass
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def _lines_by_name(base_url: str) -> dict[str, str]:
    with urllib.request.urlopen(f"{base_url}/transit/lines") as r:
        return {f["properties"]["name"]: f["properties"]["colour"].lower() for f in json.load(r)["features"]}


def _drawn_colours(browser: webdriver.Chrome) -> list[str]:
    return [
        str(c).lower()
        for c in browser.execute_script(
            "var out = []; window.plannerMap.eachLayer(function (l) {"
            " if (l.options && l.options.color && l.getLatLngs) { out.push(l.options.color); } }); return out;"
        )
    ]


def test_transit_on_the_route_planner(browser: webdriver.Chrome, base_url: str) -> None:
    from selenium.webdriver.support.ui import Select

    got = _load(browser, f"{base_url}/maps/planner?basemap=none", "planner-transit-before")
    assert got["errors"] == []
    assert not browser.find_element(By.ID, "transit-options").is_displayed()
    before = int(got["paths"])
    Select(browser.find_element(By.ID, "mode")).select_by_visible_text("transit")
    assert browser.find_element(By.ID, "transit-options").is_displayed()
    assert not browser.find_element(By.ID, "metric").is_enabled()  # transit has no shortest metric
    # Choosing transit draws the 26 lines in their official colours.
    lines = _lines_by_name(base_url)
    drawn = _drawn_colours(browser)
    assert set(lines.values()) <= set(drawn)
    assert int(browser.execute_script("return document.querySelectorAll('path.leaflet-interactive').length")) >= (
        before + len(lines)
    )
    Select(browser.find_element(By.ID, "pick-a")).select_by_value("temple-of-heaven")
    Select(browser.find_element(By.ID, "pick-b")).select_by_value("olympic-green")
    browser.find_element(By.ID, "pick-go").click()
    WebDriverWait(browser, 60).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, "tr.transit-leg") or b.find_elements(By.ID, "planner-error")
    )
    assert browser.find_elements(By.ID, "planner-error") == []
    legs = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "tr.transit-leg")]
    rides = [t for t in legs if "号线" in t]
    assert legs[0].startswith("walk")
    assert legs[-1].startswith("walk")
    assert rides, legs
    summary = browser.find_element(By.ID, "transit-summary").text
    assert "median" in summary
    assert "08:00-09:00" in summary
    # Each ride is drawn in its own line's colour (from /transit/lines, the feed's routes.txt).
    ridden = {n for n in lines if any(n in t.split() for t in rides)}
    assert ridden
    drawn = _drawn_colours(browser)
    for name in ridden:
        assert drawn.count(lines[name]) >= 2, name  # the line itself and the ride on it
    time.sleep(0.5)
    browser.save_screenshot(str(ARTIFACTS / "planner-transit.png"))
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    # Back to driving: the lines go, the options come back.
    Select(browser.find_element(By.ID, "mode")).select_by_visible_text("drive")
    assert browser.find_element(By.ID, "metric").is_enabled()
    assert not browser.find_element(By.ID, "transit-options").is_displayed()


def test_transit_isochrones_page(browser: webdriver.Chrome, base_url: str) -> None:
    from selenium.webdriver.support.ui import Select

    got = _load(browser, f"{base_url}/maps/isochrones?basemap=none", "isochrones-transit-before")
    assert got["errors"] == []
    Select(browser.find_element(By.ID, "mode")).select_by_visible_text("transit")
    Select(browser.find_element(By.ID, "percentile")).select_by_value("90")
    Select(browser.find_element(By.ID, "window")).select_by_visible_text("30")
    browser.find_element(By.ID, "bands").clear()
    browser.find_element(By.ID, "bands").send_keys("15,30,45")
    browser.find_element(By.ID, "pick-go").click()
    rows = WebDriverWait(browser, 60).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, "#planner-table tr") or b.find_elements(By.ID, "planner-error")
    )
    assert browser.find_elements(By.ID, "planner-error") == []
    assert len(rows) == 3
    assert "08:00-08:30" in browser.find_element(By.ID, "transit-summary").text
    assert "90th percentile" in browser.find_element(By.ID, "transit-summary").text
    people = [float(r.text.split("≤ ")[1].split(" min")[1].split("M people")[0].strip(" ≥")) for r in rows]
    assert people == sorted(people)
    assert people[-1] > people[0]
    time.sleep(0.5)
    browser.save_screenshot(str(ARTIFACTS / "isochrones-transit.png"))


def test_a_site_page_switches_to_transit(browser: webdriver.Chrome, base_url: str) -> None:
    got = _load(browser, f"{base_url}/maps/sites/temple-of-heaven?basemap=none", "site-temple-of-heaven-drive")
    assert "Travel time by drive" in browser.find_element(By.ID, "site-legend").text
    assert "Subway lines (modelled feed)" in str(got["layers"])
    browser.find_element(By.LINK_TEXT, "transit").click()
    WebDriverWait(browser, 60).until(lambda b: "mode=transit" in b.current_url)
    got = _load(browser, browser.current_url, "site-temple-of-heaven-transit")
    assert got["errors"] == []
    legend = browser.find_element(By.ID, "site-legend").text
    assert "Travel time by transit" in legend
    assert "≤ 60 min" in legend
    assert "Within 30 min (transit)" in str(got["layers"])
    assert "modelled" in browser.find_element(By.ID, "transit-note").text
    # A site beyond the walk network says why it has no transit bands, and keeps its page.
    got = _load(browser, f"{base_url}/maps/sites/yanqi-lake?basemap=none&mode=transit", "site-yanqi-lake-transit")
    assert got["errors"] == []
    assert "No transit bands here" in browser.find_element(By.ID, "band-error").text


def test_the_planner_reads_out_epsg4548_as_pyproj_does(browser: webdriver.Chrome, base_url: str) -> None:
    """The pointer's EPSG:4548 northing and easting (proj4js in the page) equal pyproj's to 1 mm."""
    import pyproj

    got = _load(browser, f"{base_url}/maps/planner?basemap=none", "planner-readout")
    assert got["errors"] == []
    ActionChains(browser).move_to_element_with_offset(
        browser.find_element(By.CSS_SELECTOR, ".leaflet-container"), 40, 30
    ).perform()
    text = WebDriverWait(browser, 10).until(
        lambda b: (
            "EPSG:4548" in b.find_element(By.ID, "coord-readout").text and b.find_element(By.ID, "coord-readout").text
        )
    )
    lon = float(text.split(" E,")[0])
    lat = float(text.split(", ")[1].split(" N")[0])
    n_shown = float(text.split("N ")[-1].split(" m")[0])
    e_shown = float(text.split("E ")[-1].split(" m")[0])
    tr = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:4548", always_xy=True)
    e, n = tr.transform(lon, lat)
    assert (n_shown, e_shown) == pytest.approx((n, e), abs=0.2)  # lon/lat shown to 1e-6 degrees (about 0.1 m)
    for plon, plat in [(116.397, 39.917), (115.5, 40.5), (117.4, 39.5), (116.0, 41.0)]:
        e, n = tr.transform(plon, plat)
        js = browser.execute_script("return VP.toEpsg4548(arguments[0], arguments[1]);", plon, plat)
        assert js == pytest.approx([e, n], abs=1e-3)
