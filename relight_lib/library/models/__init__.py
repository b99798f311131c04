"""Model registry: a literal dict, one paper model per file (ARCHITECTURE.md section 3).

Entries name the module and class as ``"module:Class"`` strings and are imported when a model is
built. This keeps the registry a plain table, and means a run imports only its own model's
file: the runner's cache (``relight_lib/harness/reproduce.py``) hashes the library files a run actually
imported, so adding or changing one paper's model does not make another paper's results stale.

>>> "tiny_unet" in list_models()
True
>>> build_model("tiny_unet", width=8).size_multiple
4
"""

from __future__ import annotations

import importlib
from typing import Any

from relight_lib.library.models.base import RelightModel, count_parameters, pad_to_multiple

#: name -> "module:Class" of a :class:`RelightModel` subclass. Add a paper's models here.
MODELS: dict[str, str] = {
    "tiny_unet": "relight_lib.library.models.tiny_unet:TinyUNet",
    "ltnet": "relight_lib.library.models.ltnet:LTNet",  # LTNet* (nc 16, f1 2); Table 5 sizes via nc / f1
    "ltnet_large": "relight_lib.library.models.ltnet:LTNetLarge",  # LTNet† (nc 32, f1 8)
    "dmshn": "relight_lib.library.models.dmshn:DMSHN",  # MSR-Net's three-level pyramid
    "stacked_dmshn": "relight_lib.library.models.dmshn:StackedDMSHN",  # two DMSHNs in series
    "mbnet": "relight_lib.library.models.mbnet:MBNet",
    "swapnet_illum": "relight_lib.library.models.swapnet:SwapNetIllum",  # 2DSceneRelighting model A
    "swapnet_envmap": "relight_lib.library.models.swapnet:SwapNetEnvmap",  # model B
    "swapnet_envmap_scene": "relight_lib.library.models.swapnet:SwapNetEnvmapScene",  # model C
}


def list_models() -> list[str]:
    return sorted(MODELS)


def model_class(name: str) -> type[RelightModel]:
    """The class registered as ``name``; unknown names raise KeyError listing the known ones."""
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; registered: {list_models()}")
    module, _, cls = MODELS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def build_model(name: str, **kwargs: Any) -> RelightModel:
    """Instantiate a registered model with its constructor arguments."""
    return model_class(name)(**kwargs)


__all__ = ["MODELS", "RelightModel", "build_model", "count_parameters", "list_models",
           "model_class", "pad_to_multiple"]
