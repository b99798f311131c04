"""relight_lib: the thin library behind the VIDIT relighting replication suite.

Conventions (ARCHITECTURE.md section 3): images are float32 RGB in [0, 1] with shape (B, 3, H, W)
(or (3, H, W) for one item); depth is float32 (B, 1, H, W) in [0, 1]. Conversions happen at the
edges (file I/O, a model's own normalisation inside the model).
"""

__version__ = "0.1.0"
