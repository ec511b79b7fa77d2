"""get_model / list_models / list_weights."""

from __future__ import annotations

import pytest

from dce_transforms import ConfigError, ZeroDCE, ZeroDCEPP, get_model, list_models, list_weights


def test_list_models_and_weights() -> None:
    assert list_models() == ["zero-dce", "zero-dce++"]
    for name, cls in (("zero-dce", ZeroDCE), ("zero-dce++", ZeroDCEPP)):
        names = list_weights(name)
        assert names[0] == cls.default_weights and set(names) == set(cls.weights_registry)


@pytest.mark.parametrize("weights", ["default", "DEFAULT"])
def test_get_model_default_weights(weights) -> None:
    model = get_model("zero-dce++", weights=weights, scale_factor=4)
    assert isinstance(model, ZeroDCEPP) and model.scale_factor == 4
    assert model.weights_name == ZeroDCEPP.default_weights and model.exposure_gate is not None


def test_get_model_entry_carries_its_constructor_arguments() -> None:
    assert get_model("zero-dce", weights="sice-v1").exposure_gate is None
    assert get_model("zero-dce", weights="sice-v1-adaptive").exposure_gate is not None
    assert get_model("zero-dce", weights="sice-v1-adaptive", exposure_gate=None).exposure_gate is None


@pytest.mark.parametrize("alias", ["ZeroDCE", "zero_dce", "Zero-DCE"])
def test_aliases(alias) -> None:
    assert isinstance(get_model(alias, weights=None), ZeroDCE)


def test_unknown_model_and_bad_argument_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="zero-dce"):
        get_model("unet")
    with pytest.raises(ConfigError, match="ZeroDCE"):
        get_model("zero-dce", weights=None, scale_factor=2)  # only Zero-DCE++ takes scale_factor
    with pytest.raises(ValueError):
        list_weights("nope")
