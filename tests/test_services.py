"""Smoke tests of the real services the suite relies on (docs/design.md §9).

These never skip: if PostgreSQL 15 or Chromium cannot be provided, they fail with the
reason (see tests/support/services.py).
"""

from __future__ import annotations

import functools
import http.server
import io
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from support.services import (
    artifacts_dir,
    chromium_launch_kwargs,
    drop_postgres_database,
    fresh_postgres_database,
    postgres_database_name,
)


@pytest.mark.postgres
def test_postgres_fresh_database_roundtrip(request: pytest.FixtureRequest) -> None:
    name = request.node.nodeid
    url = fresh_postgres_database(name)
    assert url.startswith("postgresql+psycopg://")
    assert url.endswith("/" + postgres_database_name(name))
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            version = conn.execute(text("SELECT version()")).scalar_one()
            assert version.startswith("PostgreSQL 15."), version
            conn.execute(text("CREATE TABLE ledger (id serial PRIMARY KEY, account text NOT NULL, amount numeric(38, 18) NOT NULL)"))
            conn.execute(
                text("INSERT INTO ledger (account, amount) VALUES (:a, :m)"),
                [{"a": "0xminer", "m": "12.5"}, {"a": "0xvalidator", "m": "0.000000000000000001"}],
            )
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT account, amount::text FROM ledger ORDER BY id")).all()
            assert [tuple(r) for r in rows] == [
                ("0xminer", "12.500000000000000000"),
                ("0xvalidator", "0.000000000000000001"),
            ]
            assert conn.execute(text("SHOW server_encoding")).scalar_one() == "UTF8"
        engine.dispose()

        # "fresh" really means fresh: asking again drops the database with its table.
        assert fresh_postgres_database(name) == url
        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT to_regclass('public.ledger')")).scalar_one() is None
    finally:
        engine.dispose()
        drop_postgres_database(name)


_PAGE = """<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>COR services smoke</title>
<style>
  body { font-family: "DejaVu Sans", sans-serif; margin: 16px; background: #fff; }
  canvas { border: 1px solid #333; display: block; }
</style>
</head>
<body>
<h1>COR services smoke</h1>
<canvas id="chart" width="360" height="180"></canvas>
<p id="status">pending</p>
<script>
  const canvas = document.getElementById("chart");
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#1f77b4";
  ctx.fillRect(20, 20, 140, 120);
  ctx.fillStyle = "#ff7f0e";
  ctx.beginPath();
  ctx.arc(260, 80, 60, 0, 2 * Math.PI);
  ctx.fill();
  ctx.fillStyle = "#000";
  ctx.font = "18px 'DejaVu Sans', sans-serif";
  ctx.fillText("canvas rendered", 20, 168);
  const px = ctx.getImageData(90, 80, 1, 1).data;
  document.getElementById("status").textContent = `drawn rgb(${px[0]},${px[1]},${px[2]})`;
</script>
</body>
</html>
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.mark.browser
def test_chromium_renders_canvas_page(tmp_path: Path) -> None:
    from PIL import Image
    from playwright.sync_api import sync_playwright

    (tmp_path / "index.html").write_text(_PAGE, encoding="utf-8")
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    shot = artifacts_dir() / "services-smoke.png"
    try:
        port = server.server_address[1]
        with sync_playwright() as p:
            browser = p.chromium.launch(**chromium_launch_kwargs())
            try:
                page = browser.new_page(viewport={"width": 640, "height": 400})
                response = page.goto(f"http://127.0.0.1:{port}/index.html")
                assert response is not None and response.ok
                status = page.locator("#status")
                status.wait_for()
                page.wait_for_function("document.getElementById('status').textContent !== 'pending'")
                assert status.text_content() == "drawn rgb(31,119,180)"
                assert page.title() == "COR services smoke"
                box = page.locator("#chart").bounding_box()
                assert box is not None
                png = page.screenshot(path=str(shot), full_page=True)
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()

    assert shot.is_file() and shot.read_bytes() == png
    img = Image.open(io.BytesIO(png)).convert("RGB")
    # The blue rectangle really is on screen, and the page is not blank.
    r, g, b = img.getpixel((int(box["x"] + 90), int(box["y"] + 80)))
    assert max(abs(r - 31), abs(g - 119), abs(b - 180)) < 8, (r, g, b)
    assert len(img.getcolors(maxcolors=img.width * img.height)) > 10
