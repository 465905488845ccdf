"""What a question id is, shared by the learner's checks and the instructor's grader.

A question id is ``"<NN>-<name>"``: ``NN`` is the chapter number (``"01-softplus"``).
"""
from __future__ import annotations

import re

__all__ = ["QUESTION_RE"]

QUESTION_RE = re.compile(r"^(\d{2})-[A-Za-z0-9_][A-Za-z0-9_.-]*$")
