"""Due dates and the course's late-submission policy (an nbgrader ``LateSubmissionPlugin``).

An assignment's due date is nbgrader's own ``duedate`` in the gradebook (set with
``python -m grader deadline``); a submission's time is nbgrader's ``timestamp.txt`` in its
``submitted/`` folder, written when submissions are imported (from the LMS zip's file times or
the notebook's modification time). nbgrader computes how late a submission is and asks the
plugin for the penalty while autograding.
"""

from __future__ import annotations

import datetime
import math

import dateutil.parser
import dateutil.tz
from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Float

from grader.course import GradingError

DAY = 86400.0


class PercentPerDay(LateSubmissionPlugin):
    r"""Lose ``percent_per_day`` percent of the notebook's score per started day late.

    .. math:: \text{penalty} = s \cdot \min\left(1, \frac{p}{100} \left\lceil \frac{t - g}{86400} \right\rceil\right)

    for a score :math:`s`, :math:`t` seconds late, a grace period of :math:`g` seconds and
    :math:`p` percent per day; no penalty when :math:`t \le g`.
    """

    percent_per_day = Float(10.0, help="Percent of the score lost per started day late.").tag(config=True)
    grace_minutes = Float(0.0, help="Minutes after the due date that are not late.").tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float):
        late = total_seconds_late - 60.0 * self.grace_minutes
        if late <= 0 or score is None:
            return None
        return score * min(1.0, self.percent_per_day / 100.0 * math.ceil(late / DAY))


def parse_time(text: str, timezone: str = "UTC") -> datetime.datetime:
    """A date and time as naive UTC (nbgrader's convention); without a zone, in ``timezone``."""
    try:
        when = dateutil.parser.parse(text)
    except (ValueError, OverflowError):
        raise GradingError(f"cannot read {text!r} as a date and time (e.g. '2026-03-01 23:59')") from None
    if when.tzinfo is None:
        zone = dateutil.tz.gettz(timezone)
        if zone is None:
            raise GradingError(f"unknown time zone {timezone!r}")
        when = when.replace(tzinfo=zone)
    return when.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def timestamp_text(when_utc: datetime.datetime) -> str:
    """The line nbgrader reads from ``timestamp.txt``."""
    return when_utc.strftime("%Y-%m-%d %H:%M:%S.%f UTC")
