"""`effdl manual serve`: the hand-grading web page, question by question, for TAs.

    effdl manual serve --gradebook G.sqlite --assignment NAME [--course C] [--port 8765]
                       [--host 127.0.0.1] [--token SECRET]

A Flask application over the gradebook. For each hand-graded question it lists the students;
for each student it shows their written answer (Markdown and LaTeX rendered), what the code
cells above it printed and the plots they drew, that student's own answer key (from their
variant, with the course's secret) and the rubric, and a form for the score and a comment.
Each save is one transaction and is refused when someone else saved that score since the
page was loaded, so two TAs grading at once never lose each other's work; the student's
results.json and feedback page are written again with the new score.

It listens on 127.0.0.1 unless told otherwise; any other address needs --token, and with a
token every request must carry it (?token=... once, then a cookie). Without a token only
requests addressed to a loopback name (127.0.0.1, localhost, [::1]) are answered, so a web
page whose domain was rebound to 127.0.0.1 cannot read the pages; a save whose Origin or
Referer is another site is refused; forms carry a value derived from a per-run secret, and
no other site may frame the pages, so another web page cannot post scores through a TA's
browser.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import ipaddress
import math
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, abort, redirect, request, url_for

from autograder import plugin
from autograder.commands.manual import (
    Answer,
    ManualError,
    extract_answers,
    own_key,
    read_notebook,
)
from autograder.course.settings import Course
from autograder.gradebook import Gradebook, GradebookError, ScoreConflict
from autograder.gradebook.course_file import given_or_recorded, remember
from autograder.grading.questions import Question, QuestionsError, questions
from autograder.grading.score import ManualScore
from autograder.publishing.class_scores import lateness_of
from autograder.publishing.markdown import to_html
from autograder.publishing.pages import render
from autograder.publishing.student import publish

COOKIE = "effdl_token"
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class ServeError(ValueError):
    """The web page cannot be started as asked."""


def _data_uri(mime: str, raw: bytes) -> str:
    return f"data:{mime};base64," + base64.b64encode(raw).decode("ascii")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _same_origin(host_url: str) -> bool:
    """Whether the request's Origin and Referer, where it sent them, are this server."""
    own = _origin(host_url)
    origin = request.headers.get("Origin")
    referer = request.headers.get("Referer")
    if origin is not None and origin.lower() != own:
        return False
    return referer is None or _origin(referer) == own


def _host_name(header: str) -> str:
    """The name in a Host header, without its port or an IPv6 address's brackets."""
    name = header.strip().lower()
    if name.startswith("["):
        return name[1 : name.find("]")] if "]" in name else name
    return name.split(":", 1)[0]


def _origin(url: str) -> str:
    """scheme://host[:port] of a URL, lower-cased."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def make_app(
    gradebook: Path, assignment: str, course: Course | None = None, token: str | None = None
) -> Flask:
    """The Flask application; `token`, when given, is required on every request."""
    manifest = plugin.get(assignment)
    try:
        qs = questions(assignment)
    except QuestionsError as exc:
        raise ServeError(str(exc)) from None
    if not qs:
        raise ServeError(f"{assignment} has no hand-graded (written) questions")
    with Gradebook.open(gradebook, create=False) as book:
        if not book.current(assignment):
            raise ServeError(f"{gradebook} has no submissions of {assignment}")
        try:
            course = given_or_recorded(book, assignment, course)
        except GradebookError as exc:
            raise ServeError(str(exc)) from None
    by_key = {q.key: q for q in qs}
    form_secret = secrets.token_bytes(32)
    app = Flask("effdl-manual")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024

    def book() -> Gradebook:
        return Gradebook.open(gradebook, create=False)

    def students() -> dict[str, Any]:
        with book() as b:
            return b.current(assignment)

    @functools.lru_cache(maxsize=512)
    def answers_of(student: str, source: str) -> tuple[dict[str, Answer], str]:
        path = Path(source)
        if not path.exists():
            return {}, f"the submission {path} is no longer there"
        nb, note = read_notebook(path, assignment, student)
        return (extract_answers(nb, list(by_key)) if nb else {}), note

    @functools.lru_cache(maxsize=512)
    def key_text(student: str) -> str:
        return own_key(assignment, course, student)

    def nonce(path: str) -> str:
        return hmac.new(form_secret, path.encode(), hashlib.sha256).hexdigest()

    @app.before_request
    def check_host() -> Any:
        if token is None and not _is_loopback(_host_name(request.headers.get("Host", ""))):
            abort(421, "without --token this page answers only to localhost or a loopback address")
        return None

    @app.before_request
    def check_origin() -> Any:
        if request.method not in ("GET", "HEAD") and not _same_origin(request.host_url):
            abort(403, "this save came from another site")
        return None

    @app.before_request
    def check_token() -> Any:
        if token is None:
            return None
        given = request.args.get("token") or request.cookies.get(COOKIE) or ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            abort(403)
        return None

    @app.after_request
    def remember_token(response: Any) -> Any:
        if token is not None and request.args.get("token") == token:
            response.set_cookie(COOKIE, token, httponly=True, samesite="Strict")
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; img-src data:; style-src 'unsafe-inline'; form-action 'self'; "
            "frame-ancestors 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.get("/")
    def index() -> str:
        rows = students()
        with book() as b:
            recorded = b.manual_scores(assignment)
        items = []
        for q in qs:
            graded = sum((sid, q.key) in recorded for sid in rows)
            items.append({"q": q, "graded": graded})
        return render(
            "serve_index.html.j2",
            assignment=assignment,
            title=manifest.title,
            items=items,
            students=len(rows),
        )

    @app.get("/q/<key>")
    def question(key: str) -> str:
        q = by_key.get(key) or abort(404)
        rows = students()
        with book() as b:
            recorded = b.manual_scores(assignment)
        listed = []
        for sid in sorted(rows):
            score = recorded.get((sid, key))
            listed.append({"student": sid, "score": score})
        return render("serve_question.html.j2", assignment=assignment, q=q, rows=listed)

    def grade_page(
        q: Question, student: str, message: str = "", status: int = 200, flash: str = ""
    ) -> Any:
        rows = students()
        row = rows.get(student) or abort(404)
        answers, note = answers_of(student, row.source_path)
        answer = answers.get(q.key)
        with book() as b:
            score = b.manual_scores(assignment).get((student, q.key))
            seen = b.manual_score_version(assignment, student, q.key)
        order = sorted(rows)
        at = order.index(student)
        path = url_for("grade", key=q.key, student=student)
        page = render(
            "serve_grade.html.j2",
            assignment=assignment,
            q=q,
            student=student,
            note=note,
            answer=answer,
            answer_html=to_html(answer.text) if answer else "",
            images=[_data_uri(m, raw) for m, raw in answer.images] if answer else [],
            criteria_html=to_html(q.criteria) if q.criteria else "",
            key_text=key_text(student),
            score=score,
            seen=seen,
            nonce=nonce(path),
            message=message,
            flash=flash,
            previous=order[at - 1] if at > 0 else None,
            following=order[at + 1] if at + 1 < len(order) else None,
            max_points=q.max_points,
        )
        return page, status

    @app.get("/q/<key>/<student>")
    def grade(key: str, student: str) -> Any:
        q = by_key.get(key) or abort(404)
        saved = request.args.get("saved")
        return grade_page(q, student, flash=f"Saved {saved}'s score." if saved else "")

    @app.post("/q/<key>/<student>")
    def save(key: str, student: str) -> Any:
        q = by_key.get(key) or abort(404)
        path = url_for("grade", key=key, student=student)
        if any(len(request.form.getlist(name)) > 1 for name in request.form):
            abort(400, "a field came twice: the form was tampered with")
        if not hmac.compare_digest(request.form.get("nonce", ""), nonce(path)):
            abort(400, "this form did not come from this page")
        rows = students()
        row = rows.get(student) or abort(404)
        try:
            points = float(request.form.get("points", ""))
            seen = int(request.form.get("seen", "-1"))
        except ValueError:
            return grade_page(q, student, "Points must be a number.", 400)
        top = q.max_points if q.max_points is not None else math.inf
        if not math.isfinite(points) or not 0 <= points <= top:
            return grade_page(q, student, f"Points must be between 0 and {top:g}.", 400)
        comment = request.form.get("comment", "").strip()[:4000]
        score = ManualScore(student, key, points, q.max_points or points, comment)
        try:
            with book() as b:
                b.save_manual_score(assignment, score, seen, "effdl manual serve")
                if row.out_dir:
                    publish(
                        b.result(row.id),
                        Path(row.out_dir),
                        b.manual_scores_of(assignment, student),
                        lateness_of(course, row),
                    )
                    remember(b, assignment, course)
        except ScoreConflict as exc:
            message = f"Not saved: {exc}. The page now shows the saved score; reload and decide."
            return grade_page(q, student, message, 409)
        order = sorted(rows)
        at = order.index(student)
        target = order[at + 1] if at + 1 < len(order) else student
        return redirect(url_for("grade", key=key, student=target, saved=student), code=303)

    return app


def serve(
    gradebook: Path,
    assignment: str,
    course: Course,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
) -> None:
    """Run the web page until interrupted."""
    if not _is_loopback(host) and not token:
        raise ServeError(
            f"--host {host} makes the page reachable from other machines: add --token SECRET "
            "(every request must then carry it)"
        )
    try:
        app = make_app(gradebook, assignment, course, token)
    except (ManualError, QuestionsError) as exc:
        raise ServeError(str(exc)) from None
    where = f"http://{host}:{port}/" + (f"?token={token}" if token else "")
    print(f"hand grading of {assignment}: open {where} (Ctrl-C stops it)")
    app.run(host=host, port=port, threaded=True, use_reloader=False)
