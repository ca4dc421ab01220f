"""The feedback page and the class report in a real browser (Debian's headless chromium):
they render, every image loads, and a screenshot is kept under pytest's temporary folder."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from classkit import ASSIGNMENT, graded_class

from autograder.publishing import report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="BROWSER TEST NOT RUN: chromium is not installed (apt-get install chromium, or run "
    "`make test`, which installs it where it can)",
)

# Appended to a copy of the page: after load, the title reports every image and SVG plot.
PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight]);
  const svgs = Array.from(document.querySelectorAll("svg")).map(s => {
    const box = s.getBoundingClientRect(); return [box.width, box.height];
  });
  document.title = "EFFDL-PROBE " + JSON.stringify({imgs: imgs, svgs: svgs});
});
</script>"""


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--allow-file-access-from-files",
        f"--user-data-dir={tmp / 'chromium-profile'}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _probe(page: Path, tmp: Path) -> dict:
    probed = page.with_name(f"probe-{page.name}")
    text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page.read_text())
    probed.write_text(text.replace("</body>", PROBE + "</body>"))  # the probe is a script
    proc = _chromium(tmp, "--virtual-time-budget=5000", "--dump-dom", probed.as_uri())
    match = re.search(r"<title>EFFDL-PROBE (.*?)</title>", proc.stdout)
    assert match, f"the page did not finish loading:\n{proc.stdout[:500]}\n{proc.stderr[-1500:]}"
    return json.loads(match[1].replace("&quot;", '"'))


def _screenshot(page: Path, tmp: Path) -> Path:
    shot = tmp / f"{page.stem}.png"
    proc = _chromium(tmp, f"--screenshot={shot}", "--window-size=1200,2000", page.as_uri())
    assert shot.is_file(), proc.stderr[-1500:]
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[:2] == (2000, 1200)
    distinct = len({tuple(p) for p in pixels[::16, ::16, :3].reshape(-1, 3).round(2).tolist()})
    assert distinct > 10, "the screenshot is blank"
    print(f"screenshot of {page.name}: {shot}")
    return shot


def test_feedback_page_renders_with_its_plots(tmp_path_factory) -> None:
    graded = graded_class(tmp_path_factory)
    tmp = tmp_path_factory.mktemp("browser-feedback")
    page = tmp / "feedback.html"
    shutil.copyfile(graded.out / "erin" / "feedback.html", page)
    found = _probe(page, tmp)
    assert found["svgs"], "the feedback page shows no plots"
    assert all(w > 100 and h > 50 for w, h in found["svgs"])
    assert all(done and w > 0 and h > 0 for done, w, h in found["imgs"])
    _screenshot(page, tmp)


def test_report_renders_and_its_images_load(tmp_path_factory) -> None:
    graded = graded_class(tmp_path_factory)
    tmp = tmp_path_factory.mktemp("browser-report")
    page = report.write_report(graded.gradebook, ASSIGNMENT, tmp)
    found = _probe(page, tmp)
    assert len(found["imgs"]) == 2
    for done, width, height in found["imgs"]:
        assert done and width > 300 and height > 150, found
    _screenshot(page, tmp)
