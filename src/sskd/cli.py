"""The ``sskd`` command: thin; it parses arguments and calls the library."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from sskd.config import (COMPILE_MODES, ConfigError, apply_override, config_from_dict, list_presets, load_preset,
                         load_recipe, merge_recipe)
from sskd.rules import apply_rules

# Flags of `sskd train` and the config key each one sets; stage keys go to the last stage.
TRAIN_FLAGS = {
    "model": "model.name", "teacher": "teacher.name", "teacher_ckpt": "teacher.checkpoint",
    "dataset": "data.name", "data_root": "data.root",
    "batch_size": "data.batch_size", "eval_batch_size": "data.eval_batch_size",
    "workers": "data.workers", "val_fraction": "data.val_fraction",
    "train_fraction": "data.train_fraction", "label_noise": "data.label_noise",
    "image_size": "data.image_size",
    "epochs": "stages.-1.epochs", "lr": "stages.-1.lr", "momentum": "stages.-1.momentum",
    "weight_decay": "stages.-1.weight_decay", "milestones": "stages.-1.milestones",
    "gamma": "stages.-1.gamma", "method": "stages.-1.method",
    "optimizer": "stages.-1.optimizer", "schedule": "stages.-1.schedule",
    "warmup_epochs": "stages.-1.warmup_epochs", "label_smoothing": "stages.-1.label_smoothing",
    "seed": "seed", "device": "device", "amp": "speed.amp", "compile_mode": "speed.compile_mode",
    "frozen_rows": "speed.frozen_rows",
    "out_dir": "output.dir", "name": "output.name", "log_every": "output.log_every",
    "progress": "output.progress", "keep_checkpoints": "output.keep_checkpoints",
}
TRAIN_SWITCHES = {
    "nesterov": "stages.-1.nesterov", "channels_last": "speed.channels_last",
    "drop_last": "data.drop_last",
    "compile": "speed.compile", "deterministic": "speed.deterministic", "cache": "output.cache",
}


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipe", metavar="YAML",
                   help="YAML recipe, or the name of a shipped one (see `sskd recipes`); flags override it")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue the run in RUN_DIR from its last checkpoint (uses its config.yaml)")
    g = p.add_argument_group("model and data")
    g.add_argument("--model", "--student", dest="model",
                   help="network to train, the student when distilling (see `sskd models`); default resnet8")
    g.add_argument("--teacher", help="teacher network of a distillation method (see `sskd models`)")
    g.add_argument("--teacher-ckpt", help="the teacher's weights: a run's model.safetensors or an original checkpoint")
    g.add_argument("--dataset", help="data set name (see `sskd datasets`); default digits")
    g.add_argument("--data-root", help="folder holding the data set's files")
    g.add_argument("--batch-size", type=int, help="global training batch (images); default 64")
    g.add_argument("--eval-batch-size", type=int, help="evaluation batch; default 256")
    g.add_argument("--drop-last", action=argparse.BooleanOptionalAction,
                   help="drop the last incomplete training batch of every epoch")
    g.add_argument("--workers", type=int, help="loader workers for image folders")
    g.add_argument("--val-fraction", type=float,
                   help="hold out this class-balanced fraction of the training set for validation")
    g.add_argument("--train-fraction", type=float, help="train on a class-balanced fraction (few-shot)")
    g.add_argument("--label-noise", type=float, help="fraction of training labels flipped (symmetric)")
    g.add_argument("--image-size", type=int,
                   help="side of the images read from an image folder; default: the teacher's input size "
                        "(the model's without a teacher)")
    g = p.add_argument_group("optimisation (applies to the last stage)")
    g.add_argument("--method", help="training method of the last stage; default supervised (distill: the "
                                    "method whose preset gives the stages; default sskd)")
    g.add_argument("--epochs", type=int, help="epochs; default 240")
    g.add_argument("--lr", type=float,
                   help="learning rate; default with SGD: the network's (0.05; 0.01 for the zoo's MobileNetV2, "
                        "ShuffleV1, ShuffleV2), with AdamW 1e-3")
    g.add_argument("--optimizer", choices=["sgd", "adamw"], help="optimiser; default sgd (the papers')")
    g.add_argument("--schedule", choices=["step", "cosine"],
                   help="learning-rate schedule: step (x gamma at each milestone; default) or cosine")
    g.add_argument("--warmup-epochs", type=int, help="epochs of linear learning-rate warm-up; default 0")
    g.add_argument("--label-smoothing", type=float,
                   help="label smoothing of the cross-entropy on class labels; default 0")
    g.add_argument("--momentum", type=float, help="SGD momentum; default 0.9")
    g.add_argument("--weight-decay", type=float, help="weight decay; default 5e-4 with SGD, 0.05 (decoupled) with AdamW")
    g.add_argument("--nesterov", action=argparse.BooleanOptionalAction, help="Nesterov momentum")
    g.add_argument("--milestones", type=int, nargs="*", help="epochs where lr is multiplied by gamma; default 150 180 210 of 240, scaled to --epochs")
    g.add_argument("--gamma", type=float, help="lr decay factor at each milestone; default 0.1")
    g = p.add_argument_group("run")
    g.add_argument("--seed", type=int, help="random seed; default 0")
    g.add_argument("--device", help="auto, cpu, cuda or cuda:N; default auto")
    g.add_argument("--amp", choices=["none", "bf16", "fp16"], help="mixed precision; default none")
    g.add_argument("--channels-last", action=argparse.BooleanOptionalAction, help="channels_last memory format")
    g.add_argument("--compile", action=argparse.BooleanOptionalAction, help="torch.compile the training step")
    g.add_argument("--compile-mode", choices=list(COMPILE_MODES),
                   help="torch.compile mode; reduce-overhead = CUDA graphs (static shapes: add --drop-last)")
    g.add_argument("--frozen-rows", type=int,
                   help="rows per forward pass of the frozen teacher; default 64 on a CPU, the whole batch on a GPU")
    g.add_argument("--deterministic", action=argparse.BooleanOptionalAction, help="deterministic kernels")
    g.add_argument("--out-dir", help="parent folder of run directories; default runs")
    g.add_argument("--name", help="run directory name; default <time>-<data>-<model>-<method>")
    g.add_argument("--log-every", type=int, help="steps between progress lines; default 20")
    g.add_argument("--progress", choices=["auto", "bar", "lines", "none"],
                   help="progress display; auto = a bar on a terminal, lines otherwise")
    g.add_argument("--keep-checkpoints", type=int, help="how many checkpoints to keep; default 2")
    g.add_argument("--cache", action=argparse.BooleanOptionalAction,
                   help="reuse (and save) stages trained before for the same teacher checkpoint and "
                        "settings, such as SSKD's teacher head; default on, under <out-dir>/cache")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any config key, e.g. --set stages.0.epochs=60 (repeatable)")
    g.add_argument("--print-config", action="store_true", help="print the effective config and exit")
    g.add_argument("--estimate", action="store_true",
                   help="time a few steps of every stage and print the run's projected wall time; "
                        "trains and writes nothing")


def given_options(args: argparse.Namespace) -> list[str]:
    """The `sskd train` options set on the command line (other than --resume)."""
    names = [a for a in list(TRAIN_FLAGS) + list(TRAIN_SWITCHES) if getattr(args, a) is not None]
    names += [a for a in ("recipe", "set", "print_config", "pretext", "estimate") if getattr(args, a, None)]
    return ["--" + n.replace("_", "-") for n in names]


def _set_pretext(raw: dict, task: str) -> None:
    """``--pretext``: the pretext task of every SSKD stage."""
    stages = [s for s in raw.get("stages", []) if s.get("method") in ("sskd_teacher_head", "sskd")]
    if not stages:
        raise ConfigError("--pretext: only SSKD stages have a pretext task; use --method sskd")
    for stage in stages:
        stage["args"] = {**stage.get("args", {}), "task": task}


DEFAULT_DISTILL_METHOD = "sskd"


def train_config_from_args(args: argparse.Namespace):
    raw = load_recipe(args.recipe) if args.recipe else {}
    distill = getattr(args, "command", None) == "distill"
    if distill and "stages" in raw and args.method is not None:
        raise ConfigError(f"--method {args.method}: the recipe {args.recipe} sets its own stages; "
                          f"give one or the other")
    if distill and "stages" not in raw:  # the stages of the method's preset (recipes/presets/)
        method = args.method or DEFAULT_DISTILL_METHOD
        if method not in list_presets():
            raise ConfigError(f"--method: distill knows {', '.join(list_presets())}; got {method!r}")
        raw = merge_recipe(load_preset(method), raw)
    if distill and args.pretext:
        _set_pretext(raw, args.pretext)
    for attr, key in TRAIN_FLAGS.items():
        value = getattr(args, attr)
        if distill and attr == "method":
            continue  # chose the stages above
        if value is not None:
            apply_override(raw, f"{key}={json.dumps(value)}")
    for attr, key in TRAIN_SWITCHES.items():
        if getattr(args, attr) is not None:
            apply_override(raw, f"{key}={'true' if getattr(args, attr) else 'false'}")
    for assignment in args.set:
        apply_override(raw, assignment)
    return apply_rules(config_from_dict(raw)).validate()


def cmd_train(args: argparse.Namespace) -> int:
    from sskd.engine import train

    if args.resume:
        extra = given_options(args)
        if extra:
            raise ConfigError(f"--resume continues a run exactly as its config.yaml says; it takes no "
                              f"other options (got {' '.join(extra)})")
        config_path = Path(args.resume) / "config.yaml"
        if not config_path.is_file():
            raise ConfigError(f"--resume {args.resume}: no config.yaml there (is it a run directory?)")
        try:
            config = config_from_dict(load_recipe(config_path))
        except ConfigError as exc:
            raise ConfigError(f"--resume {args.resume}: its config.yaml: {exc} (written by another version "
                              f"of sskd?)") from None
        run_dir = Path(args.resume)
    else:
        config = train_config_from_args(args)
        run_dir = None
    if args.print_config:
        import yaml

        print(yaml.safe_dump(config.to_dict(), sort_keys=False))
        return 0
    if args.estimate:
        from sskd.engine.estimate import estimate_run, format_estimate

        print(format_estimate(estimate_run(config), config))
        return 0
    train(config, run_dir=run_dir, resume=bool(args.resume))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from sskd.engine.evaluate import evaluate_checkpoint

    result = evaluate_checkpoint(args.checkpoint, model=args.model, dataset=args.dataset,
                                 data_root=args.data_root, split=args.split,
                                 batch_size=args.batch_size, device=args.device, amp=args.amp,
                                 num_classes=args.num_classes)
    print(json.dumps(result, indent=2))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from sskd.experiments.demo import DemoPlan, format_results, run_demo

    out = Path(args.out_dir)
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"--out-dir {out} is not empty; pick another")
    plan = DemoPlan(out, teacher=args.teacher, student=args.student, teacher_epochs=args.teacher_epochs,
                    head_epochs=args.head_epochs, student_epochs=args.student_epochs, seeds=tuple(args.seeds),
                    heavy_seeds=tuple(args.heavy_seeds), methods=tuple(args.methods), device=args.device,
                    amp=args.amp, progress=args.progress)
    results = run_demo(plan, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(format_results(results))
    print(f"results: {out / 'results.json'}, plot: {out / 'results.png'}, runs: {out}/*/")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from sskd.models import list_models, model_entry

    for name in list_models():
        entry = model_entry(name)
        print(f"{name:<15} {entry.input_size:>4}px  {entry.description}")
    print("\nand any torchvision or timm classifier as torchvision:<name> or timm:<name>, "
          "e.g. torchvision:resnet50, timm:convnext_atto")
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    from sskd.methods.catalog import format_catalog, method_catalog

    print(format_catalog(method_catalog()))
    print("\nsskd distill --method PRESET trains a preset's stages; PRESET_kd adds KD (CE 1 + KD 1, T 4) "
          "to a baseline, as the SSKD tables report them")
    return 0


def cmd_recipes(args: argparse.Namespace) -> int:
    from sskd.config import AboutConfig, build_dataclass, list_recipes

    names = list_recipes()
    width = max(map(len, names), default=0) + 2
    abouts = {name: build_dataclass(AboutConfig, load_recipe(name).get("about", {}), "about") for name in names}
    tables = sorted({a.table for a in abouts.values() if a.table}) + [None]
    for table in tables:
        print(f"\n{table or 'other recipes'}")
        for name in (n for n in names if abouts[n].table == table):
            _print_recipe(name, abouts[name], width)
    print(f"\nmethod presets (sskd distill --method NAME, or base: NAME in a recipe): {', '.join(list_presets())}")
    return 0


def _print_recipe(name: str, about, width: int) -> None:
    line = f"  {name:<{width}}{about.title}"
    if about.expected_top1 is not None:
        std = f"±{about.expected_std:.2f}" if about.expected_std is not None else ""
        line += f" | expected top-1 {about.expected_top1:.2f}{std}"
    if about.teacher_checkpoint:
        top1 = f", {about.teacher_top1:.2f}" if about.teacher_top1 is not None else ""
        line += f" | teacher: {about.teacher_checkpoint}{top1}"
    print(line)


def cmd_datasets(args: argparse.Namespace) -> int:
    from sskd.data import dataset_info, list_datasets

    for name in list_datasets():
        try:
            info = dataset_info(name)
            detail = f"{info.num_classes} classes, {info.image_size}px"
        except (ValueError, KeyError):
            detail = "classes read from the data root"
        print(f"{name:<13} {detail}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sskd", description="Knowledge distillation with self-supervision (SSKD, HSSAKD, baselines).")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error (also SSKD_DEBUG=1); by default a bad input "
                             "is one line and exit status 2")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a network (or resume a run)",
                           description="Train from a recipe and/or flags. Runs under torchrun too.")
    add_train_arguments(train)
    train.set_defaults(func=cmd_train)
    distill = sub.add_parser("distill", help="distil a teacher into a student (kd, sskd, hssakd)",
                             description="Like `sskd train`, with the stages of a distillation method's "
                                         "preset (recipes/presets/<method>.yaml in the package; `sskd recipes` "
                                         "lists them): kd; sskd (the teacher's head, then the student); "
                                         "hssakd (the frozen teacher's branches, then the student); "
                                         "hssakd_student (the student of a teacher checkpoint that holds "
                                         "branches). Flags apply to the student stage. Networks may be zoo "
                                         "names or torchvision:<name> / timm:<name>.")
    add_train_arguments(distill)
    distill.add_argument("--pretext", help="SSKD's pretext task: contrastive (default, the paper's), "
                                           "exemplar, rotation or jigsaw (paper Table 2)")
    distill.set_defaults(func=cmd_train)

    ev = sub.add_parser("eval", help="top-1/top-5 of a checkpoint on a data set",
                        description="Evaluate a trained network: a run's model.safetensors (model and "
                                    "data set read from its metadata) or any checkpoint with --model.")
    ev.add_argument("checkpoint", help="model.safetensors, a run directory, or a .pth of the original code")
    ev.add_argument("--model", help="network name; needed unless the checkpoint says it")
    ev.add_argument("--num-classes", type=int, help="classes of the checkpoint's network; default: the data set's")
    ev.add_argument("--dataset", help="data set name; default: the one the checkpoint was trained on")
    ev.add_argument("--data-root", help="folder holding the data set's files")
    ev.add_argument("--split", default="test", help="split to evaluate; default test")
    ev.add_argument("--batch-size", type=int, default=256, help="evaluation batch; default 256")
    ev.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    ev.add_argument("--amp", choices=["none", "bf16", "fp16"], default="none", help="mixed precision")
    ev.set_defaults(func=cmd_eval)
    from sskd.experiments.demo import DEFAULT_ROWS

    demo = sub.add_parser("demo", help="teacher → CE / KD / SSKD / baseline students on digits, over seeds",
                          description="The demo: trains a teacher on the embedded digits, then students "
                                      "with cross-entropy, KD and SSKD for several seeds, and prints a table.")
    demo.add_argument("--out-dir", default="runs/demo", help="where the runs go; must be new or empty")
    demo.add_argument("--teacher", default="resnet20", help="teacher network; default resnet20")
    demo.add_argument("--student", default="resnet8", help="student network; default resnet8")
    demo.add_argument("--teacher-epochs", type=int, default=20, help="teacher epochs; default 20")
    demo.add_argument("--head-epochs", type=int, default=3, help="epochs of the teacher's SS head; default 3")
    demo.add_argument("--student-epochs", type=int, default=8, help="student epochs; default 8")
    demo.add_argument("--heavy-seeds", type=int, nargs="+", default=[0],
                      help="seeds of the HSSAKD rows (2-3x the cost of an SSKD run); default 0")
    demo.add_argument("--methods", nargs="+", default=list(DEFAULT_ROWS),
                      help="rows of the table: CE, HSSAKD-online, or any distill preset (kd, sskd, hssakd, "
                           "fitnet, crd_kd, ...; `sskd methods` lists them); all = CE, KD, every baseline "
                           "+KD, SSKD, HSSAKD, HSSAKD-online; default CE KD SSKD HSSAKD HSSAKD-online")
    demo.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="student seeds; default 0 1 2")
    demo.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    demo.add_argument("--amp", choices=["auto", "none", "bf16", "fp16"], default="auto",
                      help="mixed precision; auto = bf16 where the device computes it natively")
    demo.add_argument("--progress", choices=["auto", "bar", "lines", "none"], default="none",
                      help="progress of each run; default none (one line per epoch)")
    demo.set_defaults(func=cmd_demo)
    from sskd.export.command import add_parser as add_export_parser

    add_export_parser(sub)
    from sskd.experiments.command import add_parser as add_experiment_parser

    add_experiment_parser(sub)
    from sskd.analysis.probe_command import add_parser as add_probe_parser
    from sskd.analysis.report_command import add_parser as add_report_parser
    from sskd.analysis.similarity_command import add_parser as add_similarity_parser
    from sskd.analysis.tsne_command import add_parser as add_tsne_parser

    add_similarity_parser(sub)
    add_tsne_parser(sub)
    add_probe_parser(sub)
    add_report_parser(sub)
    sub.add_parser("models", help="list the model zoo").set_defaults(func=cmd_models)
    sub.add_parser("datasets", help="list the data sets that can be read").set_defaults(func=cmd_datasets)
    sub.add_parser("recipes", help="list the recipes shipped with sskd, by paper table").set_defaults(func=cmd_recipes)
    sub.add_parser("methods", help="list the training methods, their papers and what they need"
                   ).set_defaults(func=cmd_methods)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``sskd``: a user error (:mod:`sskd.errors`) is one line on stderr and exit status 2."""
    from sskd.errors import EXIT_USER_ERROR, debug_enabled, user_message

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        message = user_message(exc)
        if message is None or debug_enabled(args.debug):
            raise
        print(f"sskd {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
