"""Model registry: a literal dict, one paper model per file (ARCHITECTURE.md section 3).

>>> "tiny_unet" in list_models()
True
>>> build_model("tiny_unet", width=8).size_multiple
4
"""

from __future__ import annotations

from typing import Any

from relight_lib.models.base import RelightModel, count_parameters, pad_to_multiple
from relight_lib.models.ltnet import LTNet, LTNetLarge
from relight_lib.models.tiny_unet import TinyUNet

#: name -> model class. Paper models are added here as their issues land.
MODELS: dict[str, type[RelightModel]] = {
    "tiny_unet": TinyUNet,
    "ltnet": LTNet,  # LTNet* (nc 16, f1 2); Table 5 sizes through nc / f1
    "ltnet_large": LTNetLarge,  # LTNet† (nc 32, f1 8)
}


def list_models() -> list[str]:
    return sorted(MODELS)


def build_model(name: str, **kwargs: Any) -> RelightModel:
    """Instantiate a registered model; unknown names raise KeyError listing the known ones."""
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; registered: {list_models()}")
    return MODELS[name](**kwargs)


__all__ = ["MODELS", "RelightModel", "build_model", "count_parameters", "list_models",
           "pad_to_multiple"]
