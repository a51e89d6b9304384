"""The demo's table and verdict are computed from the runs, honestly."""

import json

from sskd.experiments.demo import format_results, plot_results, verdict


def runs(*values):
    return [{"seed": i, "last": v, "best": v + 1, "best_epoch": 3} for i, v in enumerate(values)]


def results(kd, sskd):
    return {"teacher": {"test/top1": 97.0}, "students": {"CE": runs(90, 91, 92), "KD": kd, "SSKD": sskd},
            "plan": {"teacher": "resnet20", "student": "resnet8", "seeds": [0, 1, 2],
                     "student_epochs": 15}, "wall_time_s": 12.0}


def test_table_reports_mean_and_sample_std(tmp_path):
    text = format_results(results(runs(94, 95, 96), runs(96, 97, 98)))
    assert "91.00 ± 1.00" in text and "92.00 ± 1.00" in text  # CE last and best columns
    assert "SSKD beats KD" in text and "+2.00" in text
    plot_results(results(runs(94, 95, 96), runs(96, 97, 98)), tmp_path / "r.png")
    assert (tmp_path / "r.png").stat().st_size > 1000


def test_a_gap_inside_the_spread_is_not_called_a_win():
    assert "no clear winner" in verdict(runs(95, 96, 97), runs(94, 95, 96))
    assert "does not beat" in verdict(runs(90, 90.5, 91), runs(95, 95.5, 96))
    assert verdict(runs(97, 97.5, 98), runs(95, 95.5, 96), "HSSAKD").startswith("On digits, HSSAKD beats KD")
    json.dumps(results(runs(1), runs(2)))


def test_the_teacher_heads_retrieval_accuracy_is_reported_once():
    r = results(runs(94, 95, 96), runs(96, 97, 98))
    r["teacher"]["ss_top1"] = 41.5
    r["plan"]["head_epochs"] = 3
    text = format_results(r)
    assert text.count("retrieval top-1 41.50") == 1 and "3 epochs, trained once" in text
    assert "retrieval" not in format_results(results(runs(94, 95, 96), runs(96, 97, 98)))


def test_a_single_seed_row_shows_no_spread_and_no_verdict_of_victory():
    r = results(runs(94, 95, 96), runs(96, 97, 98))
    r["students"]["HSSAKD"] = runs(99)
    text = format_results(r)
    assert "99.00 (1 seed)" in text and "100.00 (1 seed)" in text
    assert "HSSAKD (one seed) is +4.00 points from KD's mean" in text and "not enough to call a winner" in text
