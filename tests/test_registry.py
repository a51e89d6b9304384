"""The name → object table behind models, view makers, methods and pretext tasks."""

import pytest

from sskd.registry import Registry


def test_class_decorator_names_and_registers_the_class():
    things = Registry("widget")

    @things.class_decorator("round", attr="kind")
    class Round:
        pass

    assert Round.kind == "round" and things.get("round") is Round and "round" in things
    with pytest.raises(ValueError, match="widget 'round' is already registered"):
        things.class_decorator("round")(type("Other", (), {}))
    with pytest.raises(ValueError, match=r"unknown widget 'rund'\. Did you mean round\?"):
        things.get("rund")
