"""The hand-grading web page: grading in a real browser (Debian's chromium through its
WebDriver), each student's own key, two TAs at once, and the token off localhost."""

from __future__ import annotations

import csv
import io
import shutil
import threading
from pathlib import Path

import pytest
from classkit import ASSIGNMENT, solution_folder

from autograder.commands import manual
from autograder.commands.batch import grade_class
from autograder.commands.exports import export_csv
from autograder.commands.serve import ServeError, make_app, serve
from autograder.course.settings import load_course
from autograder.gradebook import Gradebook
from autograder.grading.questions import questions

SECRET = "a course secret for the web page test"
STUDENTS = ("ann", "ben", "cat")


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[Path, Path, Path]:
    """Three students graded with a course secret: (gradebook, out, course.toml)."""
    tmp = tmp_path_factory.mktemp("serve")
    class_dir = tmp / "class"
    class_dir.mkdir()
    for sid in STUDENTS:
        solution_folder(class_dir / sid)
    course = tmp / "course.toml"
    course.write_text(f'[course]\nname = "t"\nsecret = "{SECRET}"\n')
    gradebook, out = tmp / "gb.sqlite", tmp / "graded"
    summary = grade_class(
        class_dir, ASSIGNMENT, gradebook, out, course_path=str(course), progress=False
    )
    assert summary.graded == 3
    return gradebook, out, course


def _form(client, path: str) -> dict[str, str]:
    page = client.get(path).get_data(as_text=True)
    seen = page.split('name="seen" value="')[1].split('"')[0]
    nonce = page.split('name="nonce" value="')[1].split('"')[0]
    return {"seen": seen, "nonce": nonce}


def test_each_student_sees_their_own_key_and_two_tas_never_overwrite(graded) -> None:
    gradebook, out, course = graded
    app = make_app(gradebook, ASSIGNMENT, load_course(course))
    client = app.test_client()
    q = questions(ASSIGNMENT)[0]
    keys = {sid: manual.own_key(ASSIGNMENT, load_course(course), sid) for sid in STUDENTS}
    assert len(set(keys.values())) == 3  # per-student variants: three different keys
    for sid in STUDENTS:
        page = client.get(f"/q/{q.key}/{sid}").get_data(as_text=True)
        assert keys[sid].splitlines()[3] in page  # their own numbers, not the canonical ones
    path = f"/q/{q.key}/ann"
    first, second = _form(client, path), _form(client, path)  # two TAs load the page
    saved = client.post(path, data={**first, "points": "1", "comment": "TA one"})
    assert saved.status_code == 303
    clash = client.post(path, data={**second, "points": "2", "comment": "TA two"})
    assert clash.status_code == 409 and "graded by someone else" in clash.get_data(as_text=True)
    with Gradebook.open(gradebook, create=False) as book:
        kept = book.manual_scores(ASSIGNMENT)[("ann", q.key)]
    assert (kept.points, kept.comment) == (1, "TA one")  # the first save was not lost
    bad = client.post(path, data={**_form(client, path), "points": "999"})
    assert bad.status_code == 400
    forged = client.post(path, data={"seen": "0", "nonce": "x", "points": "1"})
    assert forged.status_code == 400  # a form from another page


def test_a_token_is_needed_off_localhost_and_checked(graded) -> None:
    gradebook, _, course = graded
    with pytest.raises(ServeError, match="--token"):
        serve(gradebook, ASSIGNMENT, load_course(course), host="0.0.0.0")
    client = make_app(gradebook, ASSIGNMENT, token="s3cret").test_client()
    assert client.get("/").status_code == 403
    assert client.get("/?token=wrong").status_code == 403
    assert client.get("/?token=s3cret").status_code == 200
    assert client.get("/").status_code == 200  # the cookie it set


def test_a_page_rebound_to_localhost_can_neither_read_nor_save(graded) -> None:
    """DNS rebinding: a site whose name now resolves to 127.0.0.1 sends its own Host; a page
    of another site posting through the TA's browser sends its own Origin or Referer."""
    gradebook, _, course = graded
    client = make_app(gradebook, ASSIGNMENT, load_course(course)).test_client()
    q = questions(ASSIGNMENT)[0]
    path = f"/q/{q.key}/cat"
    rebound = {"Host": "attacker.example:8765"}
    assert client.get("/", headers=rebound).status_code == 421
    page = client.get(path, headers=rebound)
    assert page.status_code == 421 and "nonce" not in page.get_data(as_text=True)
    form = _form(client, path)  # suppose the nonce leaked all the same
    for headers in (
        rebound,
        {"Origin": "http://attacker.example:8765"},
        {"Referer": "http://attacker.example:8765/q"},
        {"Origin": "null"},
    ):
        sent = client.post(path, data={**form, "points": "1"}, headers=headers)
        assert sent.status_code in (403, 421), headers
    with Gradebook.open(gradebook, create=False) as book:
        assert ("cat", q.key) not in book.manual_scores(ASSIGNMENT)
    for host in ("127.0.0.1:8765", "[::1]:8765", "localhost"):
        assert client.get("/", headers={"Host": host}).status_code == 200
    own = {"Origin": "http://localhost", "Referer": f"http://localhost{path}"}
    saved = client.post(path, data={**form, "points": "1"}, headers=own)
    assert saved.status_code == 303  # the page's own form still saves
    assert "frame-ancestors 'none'" in saved.headers["Content-Security-Policy"]


CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    not (CHROMEDRIVER and CHROMIUM),
    reason="BROWSER TEST NOT RUN: chromium and chromium-driver are not installed (make test "
    "installs them where it can)",
)
def test_a_ta_grades_two_questions_for_three_students_in_the_browser(graded, tmp_path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait
    from werkzeug.serving import make_server

    gradebook, out, course = graded
    app = make_app(gradebook, ASSIGNMENT, load_course(course))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    graded_here = {}
    try:
        qs = [q for q in questions(ASSIGNMENT) if q.max_points][1:3]
        for q in qs:
            for n, sid in enumerate(STUDENTS):
                driver.get(f"{base}/q/{q.key}/{sid}")
                assert driver.find_element(By.ID, "student").text == sid
                assert driver.find_element(By.ID, "key").text.strip()  # their key is shown
                points = min(q.max_points, 0.5 * (n + 1))
                field = driver.find_element(By.ID, "points")
                field.clear()
                field.send_keys(f"{points:g}")
                driver.find_element(By.ID, "comment").send_keys(f"{q.key} note for {sid}")
                driver.find_element(By.ID, "save").click()
                flash = WebDriverWait(driver, 20).until(
                    expected_conditions.presence_of_element_located((By.ID, "flash"))
                )
                assert f"Saved {sid}" in flash.text
                driver.get(f"{base}/q/{q.key}/{sid}")  # reload: the score is there
                recorded = driver.find_element(By.ID, "recorded").text
                assert recorded.startswith(f"Recorded: {points:g} /"), recorded
                graded_here[(sid, q.key)] = points
        driver.get(f"{base}/q/{qs[0].key}")
        cells = {
            c.get_attribute("data-student"): c.text
            for c in driver.find_elements(By.CSS_SELECTOR, "td.score")
        }
        assert all(not cells[sid].startswith("not graded") for sid in STUDENTS)
    finally:
        driver.quit()
        server.shutdown()
    rows = {
        r["student_id"]: r
        for r in csv.DictReader(io.StringIO(export_csv(gradebook, ASSIGNMENT, course_path=str(course))))
    }  # fmt: skip
    for (sid, key), _points in graded_here.items():
        feedback = (out / sid / "feedback.html").read_text()
        assert f"{key} note for {sid}" in feedback  # the feedback page picked the score up
    with Gradebook.open(gradebook, create=False) as book:
        stored = book.manual_scores(ASSIGNMENT)
    for (sid, key), points in graded_here.items():
        assert stored[(sid, key)].points == points
    for sid in STUDENTS:
        mine = sum(s.points for (who, _), s in stored.items() if who == sid)
        assert float(rows[sid]["manual_points"]) == pytest.approx(mine)  # and the CSV


def test_markup_in_a_formula_reaches_no_page(graded) -> None:
    """latex2mathml copies \\text{...} into the MathML as it is: a written answer could put an
    input into the score form or a script into the offline pages (an attacker's find)."""
    from autograder.publishing.markdown import to_html

    evil = "$\\text{<input\tform=score-form\tname=points\tvalue=10>}$ $\\text{<img src=x onerror=alert(1)>}$"
    page = str(to_html(evil + " and $x^2$"))
    assert "<input" not in page and "<img" not in page and "onerror" not in page
    assert "<msup><mi>x</mi><mn>2</mn></msup>" in page  # real math still renders
    gradebook, _, course = graded
    client = make_app(gradebook, ASSIGNMENT, load_course(course)).test_client()
    q = questions(ASSIGNMENT)[0]
    path = f"/q/{q.key}/ben"
    form = _form(client, path)
    sent = client.post(
        path, data={**form, "points": ["0", "10"], "comment": "weak"}
    )  # a second points field, as an injected input would add
    assert sent.status_code == 400
