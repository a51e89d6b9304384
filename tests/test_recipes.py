"""Shipped recipes parse into valid configs and are found by name."""

import pytest

from sskd.config import config_from_dict, list_recipes, load_recipe


def test_the_demo_recipe_is_shipped():
    assert "digits_teacher" in list_recipes()


@pytest.mark.parametrize("name", list_recipes())
def test_every_shipped_recipe_is_valid(name):
    config = config_from_dict(load_recipe(name))
    assert config.stages and config.model.name
