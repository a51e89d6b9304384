"""The demo's rows: any distill preset by name, `all`, and the stages each row trains."""

import pytest

from sskd.config import ConfigError
from sskd.experiments.rows import all_rows, row_label, row_stages


@pytest.mark.parametrize("name,label", [("kd", "KD"), ("SSKD", "SSKD"), ("fitnet", "FitNet"),
                                        ("fitnet_kd", "FitNet+KD"), ("FitNet+KD", "FitNet+KD"),
                                        ("crd", "CRD"), ("ce", "CE"), ("hssakd-online", "HSSAKD-online")])
def test_rows_are_named_by_preset_or_label(name, label):
    assert row_label(name) == label


def test_an_unknown_row_or_a_preset_the_demo_cannot_run_is_refused_naming_it():
    for name in ("fitnett", "hssakd_student"):
        with pytest.raises(ConfigError, match=name):
            row_label(name)


def test_all_is_ce_kd_every_baseline_plus_kd_and_the_papers_methods():
    rows = all_rows()
    assert rows[:2] == ["CE", "KD"] and rows[-3:] == ["SSKD", "HSSAKD", "HSSAKD-online"]
    assert len(rows) == 17 and all(r.endswith("+KD") for r in rows[2:-3])


def test_init_stages_are_shortened_and_keep_a_constant_lr():
    stages = row_stages("AB+KD", head_epochs=2, student_epochs=5)
    assert [(s["method"], s["epochs"], s["milestones"]) for s in stages] == [("ab_init", 2, []), ("ab", 5, None)]
    assert stages[-1]["args"] == {"kd_weight": 1.0}
    assert [s["method"] for s in row_stages("CE", 2, 5)] == ["supervised"]
