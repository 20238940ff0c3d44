"""layerctl: build AWS Lambda layers for a whole monorepo at once."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
