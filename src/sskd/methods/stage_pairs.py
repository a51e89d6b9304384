"""Methods that pair the student's stage maps one to one with the teacher's (``feats[1:]``,
the CRD benchmark's ``feats[1:-1]``): both networks need as many stages."""

from __future__ import annotations

from sskd.models import ModelOutput


def stage_count_problem(student: ModelOutput, teacher: ModelOutput) -> str:
    """Why the stage maps of the two outputs cannot be paired one to one (the end of one
    sentence), ``""`` if they can."""
    n_s, n_t = len(student.feats) - 1, len(teacher.feats) - 1
    if n_s == n_t and n_s > 0:
        return ""
    return (f"it pairs the stage maps (feats[1:]) one to one, and the student has {n_s} of them "
            f"while the teacher has {n_t}")
