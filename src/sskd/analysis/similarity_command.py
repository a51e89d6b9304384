"""The ``sskd similarity`` subcommand: KL and linear CKA between a teacher and a student
(SSKD Table 6), printed as a short table and optionally written as JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sskd.analysis.network_outputs import AMP_MODES
from sskd.analysis.similarity import REPRESENTATIONS, teacher_student_similarity
from sskd.engine.checkpoint import atomic_write_text


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``sskd similarity TEACHER STUDENT [options]`` on ``sub``."""
    p = sub.add_parser("similarity", help="KL and linear CKA between a teacher and a student (SSKD Table 6)",
                       description="Run a teacher and a student on the same test images and report "
                                   "KL(teacher || student) of softmax(z/T) (float64, batchmean, no T^2) for "
                                   "each temperature, and linear CKA (Kornblith et al. 2019, biased HSIC "
                                   "over the whole split) of their pooled embeddings or logits.")
    p.add_argument("teacher", metavar="TEACHER", help="teacher run directory or .safetensors/.pth weights")
    p.add_argument("student", metavar="STUDENT", help="student run directory or .safetensors/.pth weights")
    p.add_argument("--teacher-model", help="the teacher's network, for weights whose metadata does not name it")
    p.add_argument("--student-model", help="the student's network, for weights whose metadata does not name it")
    p.add_argument("--dataset", help="data set; default: the one the student was trained on")
    p.add_argument("--data-root", help="folder holding the data set's files")
    p.add_argument("--split", default="test", help="data-set split; default test")
    p.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 4.0], metavar="T",
                   help="softmax temperatures of the KL; default 1 4")
    p.add_argument("--representation", choices=list(REPRESENTATIONS), default="pooled",
                   help="what CKA compares: the pooled penultimate embeddings (default) or the logits")
    p.add_argument("--batch-size", type=int, default=256, help="images per batch; default 256")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N; default auto")
    p.add_argument("--amp", choices=list(AMP_MODES), default="none", help="mixed precision; default none")
    p.add_argument("--json", metavar="OUT", help="also write the result to this JSON file")
    p.set_defaults(func=cmd_similarity)
    return p


def format_similarity(result: dict[str, Any]) -> str:
    """The result as a few aligned lines."""
    lines = [f"teacher  {result['teacher_model']:<14} {result['teacher']}",
             f"student  {result['student_model']:<14} {result['student']}",
             f"{result['dataset']} {result['split']}: {result['images']} images"]
    for kl in result["kl"]:
        lines.append(f"KL(teacher||student) T={kl['temperature']:g}: {kl['value']:.6f}")
    lines.append(f"linear CKA ({result['representation']}): {result['cka']:.6f}")
    return "\n".join(lines)


def write_json(path: Path, result: dict[str, Any]) -> None:
    """Write ``result`` to ``path`` atomically, creating its folder."""
    if path.is_dir():
        raise ValueError(f"--json {path}: a folder; give a file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(result, indent=2) + "\n")


def cmd_similarity(args: argparse.Namespace) -> int:
    result = teacher_student_similarity(
        args.teacher, args.student, dataset=args.dataset, data_root=args.data_root, split=args.split,
        temperatures=args.temperatures, representation=args.representation, batch_size=args.batch_size,
        device=args.device, amp=args.amp, teacher_model=args.teacher_model, student_model=args.student_model)
    print(format_similarity(result))
    if args.json:
        write_json(Path(args.json), result)
        print(f"wrote {args.json}")
    return 0
