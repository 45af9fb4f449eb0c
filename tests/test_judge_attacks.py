"""The trusted judge against submissions that cheat or attack the grader, graded for real.

One batch of the activations assignment holds the model solution graded first (the victim
whose files attacks try to read or overwrite), every attack of ``tests/attacks/``, and the
model solution again graded last (to catch anything an attack left behind for later
submissions). For each attack: the parts it attacks lose their points, its honest parts keep
theirs, and every other submission is graded. Afterwards the instructor's files, the victim's
submission and the course's release are unchanged, and nothing reached the network.
"""

from __future__ import annotations

import hashlib
import pathlib
import socket
import threading
import warnings

import pytest

from attacks.activations import ATTACKS
from grader import notebooks
from grader.autograde import autograde_batch
from grader.judge.batch import default_workers
from grader.course import REPO_ROOT, SOLUTIONS_DIR, course_environment, load_config
from grader.release import release_all

ASSIGNMENT = "activations"
CELL_TIMEOUT = "8"
PROTECTED = ("solutions", "grader", "nn_reference", "coursekit", "tests")


def _digest(paths) -> dict:
    out = {}
    for root in paths:
        for path in sorted(pathlib.Path(root).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


class _Listener:
    """A TCP server on the loopback that records whatever reaches it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                self.received.append(conn.recv(100))

    def close(self):
        self._stop.set()
        self.thread.join()
        self.sock.close()


def _fill(source: str, values: dict) -> str:
    for key, value in values.items():
        source = source.replace("{" + key + "}", str(value))
    return source


def _student(i: int) -> str:
    return f"attack{i:02d}"


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    root = tmp_path_factory.mktemp("attacked_course")
    listener = _Listener()
    mp = pytest.MonkeyPatch()
    mp.setenv("COURSE_CELL_TIMEOUT", CELL_TIMEOUT)
    try:
        with course_environment(root, db_url=f"sqlite:///{root}/gradebook.db"):
            from nbgrader.apps import NbGraderAPI

            api = NbGraderAPI(config=load_config())
            release_all(api, [ASSIGNMENT])
            source = notebooks.read(SOLUTIONS_DIR / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
            victim = root / "submitted" / "aaa_first" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
            fill = dict(course=root, repo=REPO_ROOT, victim=victim, port=listener.port)
            submissions = {"aaa_first": notebooks.with_answers(source),
                           "zzz_last": notebooks.with_answers(source)}
            for i, attack in enumerate(ATTACKS):
                answers = {k: _fill(v, fill) for k, v in attack.answers.items()}
                submissions[_student(i)] = notebooks.with_answers(source, answers)
            for student, nb in submissions.items():
                notebooks.write(nb, root / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
            before = _digest([REPO_ROOT / p for p in PROTECTED] + [root / "release", victim.parent])
            outcomes = {o.student_id: o for o in autograde_batch(api, ASSIGNMENT, progress=False,
                                                                  workers=default_workers())}
            after = _digest([REPO_ROOT / p for p in PROTECTED] + [root / "release", victim.parent])
            scores, maxima = {}, {}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with api.gradebook as gb:
                    cells = [c for c in gb.find_notebook(ASSIGNMENT, ASSIGNMENT).grade_cells if c.cell_type == "code"]
                    for student in submissions:
                        for cell in cells:
                            scores[student, cell.name] = float(gb.find_grade(cell.name, ASSIGNMENT, ASSIGNMENT, student).score)
                            maxima[cell.name] = float(cell.max_score)
    finally:
        listener.close()
        mp.undo()
    return dict(scores=scores, maxima=maxima, outcomes=outcomes, before=before, after=after,
                received=listener.received)


def test_there_are_at_least_twenty_attacks():
    assert len(ATTACKS) >= 20


def test_honest_submissions_before_and_after_the_attacks_get_full_marks(attacked):
    for student in ("aaa_first", "zzz_last"):
        assert attacked["outcomes"][student].status == "graded", attacked["outcomes"][student].reason
        for cell, top in attacked["maxima"].items():
            assert attacked["scores"][student, cell] == top, f"{student} lost points in {cell}"


@pytest.mark.parametrize("index", range(len(ATTACKS)), ids=[a.mistake[:50] for a in ATTACKS])
def test_attack_loses_exactly_the_parts_it_attacks(attacked, index):
    attack, student = ATTACKS[index], _student(index)
    assert attacked["outcomes"][student].status == "graded", attacked["outcomes"][student].reason
    for cell, top in attacked["maxima"].items():
        got = attacked["scores"][student, cell]
        if cell in attack.loses:
            assert got == 0, f"'{attack.mistake}' kept {got} points in {cell}"
        else:
            assert got == top, f"'{attack.mistake}' cost its honest part {cell} ({got} of {top})"


def test_instructor_files_and_other_submissions_are_unchanged(attacked):
    changed = sorted(k for k in set(attacked["before"]) | set(attacked["after"])
                     if attacked["before"].get(k) != attacked["after"].get(k))
    assert not changed, f"files changed by grading: {changed[:5]}"


def test_nothing_reached_the_network(attacked):
    assert attacked["received"] == []


def _grade_unprotected(tmp_path, attacks: dict, *, plain_nbgrader: bool) -> dict:
    """Scores of ``test_log_sigmoid`` per attack, graded without one of the protections:
    ``plain_nbgrader`` (hidden tests in the student's kernel, nbgrader's own Execute) or
    ``--no-sandbox`` (the judge, but the student's kernel unconfined)."""
    root = tmp_path / "course"
    with course_environment(root, db_url=f"sqlite:///{root}/gradebook.db"):
        from nbgrader.apps import NbGraderAPI

        config = load_config()
        if plain_nbgrader:
            steps = list(config.Autograde.autograde_preprocessors)
            steps[0] = "nbgrader.preprocessors.Execute"
            config.Autograde.autograde_preprocessors = steps
        api = NbGraderAPI(config=config)
        release_all(api, [ASSIGNMENT])
        source = notebooks.read(SOLUTIONS_DIR / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
        fill = dict(course=root, repo=REPO_ROOT, victim=root / "nobody", port=1)
        for student, attack in attacks.items():
            answers = {k: _fill(v, fill) for k, v in attack.answers.items()}
            notebooks.write(notebooks.with_answers(source, answers),
                            root / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # plain nbgrader ignores the sandbox setting; otherwise: the judge, unconfined
            autograde_batch(api, ASSIGNMENT, progress=False, sandboxed=plain_nbgrader)
            with api.gradebook as gb:
                return {s: float(gb.find_grade("test_log_sigmoid", ASSIGNMENT, ASSIGNMENT, s).score)
                        for s in attacks}


def test_the_same_attacks_succeed_without_the_protections(tmp_path, monkeypatch):
    """The negative side: the suite's attacks are real. Without the sandbox the student reads
    the instructor's notebook; with nbgrader's own execution the tests themselves are fooled."""
    monkeypatch.setenv("COURSE_CELL_TIMEOUT", CELL_TIMEOUT)
    by_name = {a.mistake: a for a in ATTACKS}
    reads_solution = by_name["exec'ing the model solution from the instructor's source notebook"]
    no_sandbox = _grade_unprotected(tmp_path / "unconfined", {"reader": reads_solution}, plain_nbgrader=False)
    assert no_sandbox["reader"] == 2.0, "without the sandbox, reading the source notebook should succeed"
    fooled = {"numpy": by_name["numpy's comparisons patched to always agree"],
              "blanker": by_name["an input transformer that blanks every later cell (the release, answered by nothing)"]}
    plain = _grade_unprotected(tmp_path / "plain", fooled, plain_nbgrader=True)
    assert plain == {"numpy": 2.0, "blanker": 2.0}, f"plain nbgrader should be fooled: {plain}"
