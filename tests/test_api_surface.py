"""The public API: a name that disappears from ``__all__`` is a breaking change and fails here."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import dce_transforms
from dce_transforms.errors import DCEError

# Names promised to users. Adding a name is fine; removing or renaming one must be deliberate
# (update this list and the changelog together).
PUBLIC = {
    "dce_transforms": {
        "ApplyCurves", "ChecksumError", "ConfigError", "DCEError", "DeviceError", "ImageDTypeError",
        "ImageShapeError", "ImageValueError", "LECurve", "WeightsEntry", "WeightsError", "ZeroDCE", "ZeroDCEPP",
        "ZeroReferenceLoss", "__version__", "apply_curves", "curves", "errors", "flush_denormals", "get_model",
        "le_curve", "list_models", "list_weights", "load_state_dict", "losses", "save_state_dict",
        "zero_reference_loss",
    },
    "dce_transforms.curves": {"le_curve", "apply_curves", "LECurve", "ApplyCurves"},
    "dce_transforms.losses": {
        "spatial_consistency_loss", "exposure_control_loss", "color_constancy_loss", "illumination_smoothness_loss",
        "zero_reference_loss", "SpatialConsistencyLoss", "ExposureControlLoss", "ColorConstancyLoss",
        "IlluminationSmoothnessLoss", "ZeroReferenceLoss", "Form",
    },
    "dce_transforms.errors": {
        "DCEError", "ImageDTypeError", "ImageShapeError", "ImageValueError", "DeviceError", "WeightsError",
        "ChecksumError", "ConfigError", "UsageError",
    },
    "dce_transforms.registry": {"get_model", "list_models", "list_weights", "model_class"},
    "dce_transforms.models": {"ZeroDCE", "ZeroDCEPP", "WeightsArg", "OFFICIAL_SHA256"},
    "dce_transforms.io": {
        "IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "ImageReadError", "list_images", "read_image", "write_image",
        "image_to_tensor", "tensor_to_image", "atomic_path",
    },
    "dce_transforms.convert": {
        "LUMA", "is_pil", "to_unit_float", "quantize", "quantize_array", "to_rgb", "array_to_batch", "batch_to_array",
        "pil_to_array", "image_to_tensor", "tensor_to_image", "to_uint8",
    },
    "dce_transforms.viz": {"to_uint8", "image_grid", "compare_grid", "alpha_heatmap", "curve_plot", "sample_curve_points"},
    # The command-line tools (issue 17): one module per console script, each with main(argv) -> exit status.
    "dce_transforms.cli": {"dce_enhance", "dce_train", "dce_eval", "dce_darken"},
    "dce_transforms.cli.dce_enhance": {"main", "plan_jobs", "enhance_image_file", "enhance_video_file", "Job"},
    "dce_transforms.cli.dce_train": {"main"},
    "dce_transforms.cli.dce_eval": {"main"},
    "dce_transforms.cli.dce_darken": {"main", "read_yaml", "label_path", "image_seed"},
}


# Public modules (no leading underscore in any part of the name) that hold no API of their own.
NO_ALL = {"dce_transforms.weights"}  # the shipped .safetensors files
# The framework each adapter module imports when it is itself imported.
FRAMEWORK = {"albumentations": "albumentations", "kornia": "kornia", "torchvision": "torchvision",
             "ultralytics": "ultralytics"}


def _public_modules() -> list[str]:
    """Every importable public module of the package, the integrations included, found on disk."""
    import dce_transforms.integrations as integrations

    names = []
    for package in (dce_transforms, integrations):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not any(part.startswith("_") for part in info.name.split(".")):
                names.append(info.name)
    return sorted(names)


PUBLIC_MODULES = _public_modules()


def _import_public(module_name: str):
    framework = FRAMEWORK.get(module_name.rsplit(".", 1)[-1]) if ".integrations." in module_name else None
    if framework is not None:
        pytest.importorskip(framework, reason=f"{module_name} needs {framework}")
    return importlib.import_module(module_name)


def test_the_module_walk_finds_the_package():
    expected = {"dce_transforms.curves", "dce_transforms.errors", "dce_transforms.models", "dce_transforms.registry",
                "dce_transforms.transforms", "dce_transforms.integrations.ultralytics", "dce_transforms.cli",
                "dce_transforms.cli.dce_enhance", "dce_transforms.cli.dce_train", "dce_transforms.cli.dce_eval",
                "dce_transforms.cli.dce_darken"}
    assert expected <= set(PUBLIC_MODULES), sorted(expected - set(PUBLIC_MODULES))
    assert set(PUBLIC) <= set(PUBLIC_MODULES) | {"dce_transforms"}


@pytest.mark.parametrize("module_name", [m for m in PUBLIC_MODULES if m not in NO_ALL])
def test_every_public_module_declares_documented_names(module_name):
    module = _import_public(module_name)
    assert inspect.getdoc(module), f"{module_name} has no module docstring"
    names = getattr(module, "__all__", None)
    assert isinstance(names, list) and names, f"{module_name} declares no __all__"
    assert all(isinstance(n, str) for n in names)
    assert len(names) == len(set(names)), f"{module_name}: duplicate names in __all__"
    absent = [n for n in names if not hasattr(module, n)]
    assert not absent, f"{module_name}.__all__ names {absent} that do not exist"
    undocumented = [  # the object's own docstring: inspect.getdoc would accept a base class's
        n for n in names
        if (inspect.isfunction(getattr(module, n)) or inspect.isclass(getattr(module, n)))
        and not (getattr(module, n).__doc__ or "").strip()
    ]
    assert not undocumented, f"{module_name}: no docstring on {undocumented}"


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_public_names_are_still_exported(module_name):
    module = importlib.import_module(module_name)
    missing = PUBLIC[module_name] - set(module.__all__)
    assert not missing, f"{module_name}.__all__ lost {sorted(missing)}"


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_every_name_in_all_exists(module_name):
    module = importlib.import_module(module_name)
    assert len(module.__all__) == len(set(module.__all__)), "duplicate names in __all__"
    absent = [name for name in module.__all__ if not hasattr(module, name)]
    assert not absent, f"{module_name}.__all__ names {absent} that do not exist"


def test_star_import_gives_exactly_all():
    namespace: dict = {}
    exec("from dce_transforms import *", namespace)  # noqa: S102 - the point of the test
    namespace.pop("__builtins__")
    assert set(namespace) == set(dce_transforms.__all__)


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_public_callables_are_documented(module_name):
    module = importlib.import_module(module_name)
    undocumented = [
        name
        for name in module.__all__
        if (inspect.isfunction(getattr(module, name)) or inspect.isclass(getattr(module, name)))
        and not inspect.getdoc(getattr(module, name))
    ]
    assert not undocumented, f"{module_name}: no docstring on {undocumented}"


def test_exported_errors_are_builtin_errors_too():
    errors = [getattr(dce_transforms.errors, name) for name in dce_transforms.errors.__all__]
    assert errors and all(isinstance(cls, type) for cls in errors)
    for cls in errors:
        assert issubclass(cls, DCEError)
        if cls is not DCEError:
            assert issubclass(cls, (ValueError, TypeError)), cls.__name__


def test_version_is_a_string():
    assert isinstance(dce_transforms.__version__, str) and dce_transforms.__version__.count(".") >= 2


@pytest.mark.parametrize("fn_name", ["le_curve", "apply_curves", "zero_reference_loss"])
def test_options_after_the_image_are_keyword_only(fn_name):
    fn = getattr(dce_transforms, fn_name)
    params = list(inspect.signature(fn).parameters.values())
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    assert positional == {"le_curve": ["x", "alpha"], "apply_curves": ["x", "alpha"],
                          "zero_reference_loss": ["enhanced", "original", "alpha"]}[fn_name]


@pytest.mark.parametrize("cls", ["ZeroDCE", "ZeroDCEPP"])
def test_model_options_are_keyword_only(cls):
    init = inspect.signature(getattr(dce_transforms, cls).__init__).parameters.values()
    assert all(p.kind is p.KEYWORD_ONLY for p in init if p.name != "self")
    forward = inspect.signature(getattr(dce_transforms, cls).forward).parameters
    assert forward["return_curves"].kind is inspect.Parameter.KEYWORD_ONLY
