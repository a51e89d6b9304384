"""Small builders shared by the method tests: a method context around the random
teacher checkpoint, and a batch of random images through a view maker."""

import torch
from torch import nn

from sskd.config import config_from_dict
from sskd.data import make_views
from sskd.methods import MethodContext


def method_context(teacher_file, stage, networks=None, model="resnet8"):
    """A context for one ``stage`` with a ``model`` student and the ResNet-8 teacher file."""
    config = config_from_dict({"model": {"name": model}, "device": "cpu",
                               "teacher": {"name": "resnet8", "checkpoint": str(teacher_file)},
                               "stages": [stage]})
    return MethodContext(config, config.stages[0], 10, networks if networks is not None else nn.ModuleDict())


def random_views(maker, seed=0, b=4, train=True):
    """``b`` random 32×32 images with labels in 0..9 through view maker ``maker``."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (b, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (b,), generator=g)
    return make_views(maker, mean=(0.5,) * 3, std=(0.25,) * 3, train=train)(images, labels, g)


def resolved_recipe(name):
    """A shipped recipe's config as a fresh run resolves it (the networks' rules applied)."""
    from sskd.config import config_from_dict, load_recipe
    from sskd.rules import apply_rules

    return apply_rules(config_from_dict(load_recipe(name))).validate()


def built_method(teacher_file, method, args=None, model="resnet8"):
    """Stage ``method`` (with ``args``) built around the random ResNet-8 teacher file, and the
    run's networks it joined."""
    from sskd.methods import build_method

    networks = nn.ModuleDict()
    stage = {"method": method, "args": args or {}}
    return build_method(method_context(teacher_file, stage, networks, model=model), "stages[0]"), networks


def train_steps(method, batch, term, keys, steps=4, **sgd):
    """``steps`` SGD steps of ``method`` on one ``batch`` (lr 0.05 unless ``sgd`` says
    otherwise); every step's losses must be exactly ``keys``. Returns the values of loss
    ``term``, checked finite."""
    opt = torch.optim.SGD(list(method.trainable_parameters()), **{"lr": 0.05, **sgd})
    values = []
    for _ in range(steps):
        _, losses = method.forward_train(batch)
        assert set(losses) == set(keys), sorted(losses)
        values.append(losses[term].item())
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()
    assert all(torch.isfinite(torch.tensor(values))), values
    return values


def assert_term_follows(method, batch, term, expected, steps=3, after_backward=None):
    """``steps`` SGD steps (lr 0.05) of ``method`` on ``batch``; at each, the losses are
    ``{"ce", term}`` and ``losses[term]`` equals ``expected(x)`` (rel 1e-4), computed without
    gradient from the normal views ``x``. ``after_backward()`` runs after each backward."""
    import pytest

    opt = torch.optim.SGD(list(method.trainable_parameters()), lr=0.05)
    x = batch.views[:, 0]
    for _ in range(steps):
        _, losses = method.forward_train(batch)
        assert set(losses) == {"ce", term} and torch.isfinite(losses[term])
        with torch.no_grad():
            want = expected(x)
        assert losses[term].item() == pytest.approx(want.item(), rel=1e-4)
        opt.zero_grad()
        sum(losses.values()).backward()
        if after_backward is not None:
            after_backward()
        opt.step()
