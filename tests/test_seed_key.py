"""The hidden inputs' seed key where a course has no secret (course/seed_key.py).

Round 7 of docs/trust.md: graded without a course secret, the seeds were keyed by a string in
the code, so a hook could draw its own hidden inputs and answer them without communicating.
Now such a course's seeds are keyed by a random key kept for the installation.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from autograder import plugin
from autograder.course import seed_key
from autograder.course.settings import Course, CourseError, load_course
from autograder.grading import grade as grade_module
from autograder.grading import suite
from autograder.grading.grade import grade_submission
from autograder.grading.job import job_data
from autograder.grading.job import write_job as real_write_job

NAME = "distributed-sparse"


@pytest.fixture
def key_path(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "state" / "effdl" / "seed-key"
    monkeypatch.setenv("EFFDL_SEED_KEY_FILE", str(path))
    monkeypatch.delenv("EFFDL_SEED_KEY", raising=False)
    seed_key._kept.cache_clear()
    yield path
    seed_key._kept.cache_clear()


def test_the_key_is_made_once_kept_private_and_read_back(key_path: Path) -> None:
    first = seed_key.installation_key()
    assert len(first) == 64 and key_path.read_text().strip() == first
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    seed_key._kept.cache_clear()
    assert seed_key.installation_key() == first
    assert load_course(None).seed_key == first


def test_the_environment_sets_it_and_a_short_one_is_refused(key_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("EFFDL_SEED_KEY", "the same key on every worker")
    assert seed_key.installation_key() == "the same key on every worker"
    monkeypatch.setenv("EFFDL_SEED_KEY", "short")
    with pytest.raises(ValueError, match="at least 16"):
        seed_key.installation_key()
    monkeypatch.delenv("EFFDL_SEED_KEY")
    key_path.parent.mkdir(parents=True)
    key_path.write_text("tiny\n")
    with pytest.raises(ValueError, match="shorter than 16"):
        seed_key.installation_key()
    assert load_course(None).seed_key is None  # and grading says so to the staff


def test_without_a_secret_the_hidden_inputs_are_not_the_codes_own(key_path, monkeypatch) -> None:
    """The calls a grading makes without a course secret: drawn with the installation's key,
    not with the public one a student could compute them from."""
    written: list = []

    def spy(job_dir, manifest, statements, calls) -> None:
        written.append(job_data(manifest, [], calls)["calls"])
        real_write_job(job_dir, manifest, statements, calls)

    monkeypatch.setattr(grade_module, "write_job", spy)
    solution = plugin.get(NAME).solution_dir
    result = grade_submission(solution, NAME, Course(), student_id="s1")
    assert not result.staff_notes, result.staff_notes
    assert result.checks and not result.lost
    made = written[0]

    def calls_with(key: str | None) -> list:
        seed = suite.submission_seed(key, NAME, "s1", result.content_hash)
        manifest = plugin.get(NAME)
        calls, _ = suite.load(NAME).plan(manifest.variant(None, "s1"), seed)
        return job_data(manifest, [], calls)["calls"]

    assert made == calls_with(seed_key.installation_key())
    assert made != calls_with(None)  # the public key, "effdl-canonical"


def test_a_gradescope_export_without_a_secret_carries_the_key(key_path, tmp_path) -> None:
    """Every Gradescope container grading the export draws the hidden inputs this
    installation draws: the key travels in the zip's course.toml (staff-only), and a
    course.toml's seed_key is what load_course gives."""
    import zipfile

    from autograder.commands import gradescope

    course = tmp_path / "course.toml"
    course.write_text('[course]\nname = "no secret"\n')
    archive = gradescope.gradescope_zip(NAME, tmp_path / "autograder.zip", str(course))
    with zipfile.ZipFile(archive) as zf:
        text = zf.read("course.toml").decode()
    key = seed_key.installation_key()
    assert f'seed_key = "{key}"' in text
    exported = tmp_path / "exported.toml"
    exported.write_text(text)
    seed_key._kept.cache_clear()
    key_path.unlink()  # another machine: it has no key of its own yet
    assert load_course(exported).seed_key == key
    exported.write_text('[course]\nseed_key = "short"\n')
    with pytest.raises(CourseError, match="at least 16"):
        load_course(exported)
