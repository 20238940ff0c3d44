"""A target's one input key: exactly what decides the bytes of its zip, computed the same way by
the check before a run decides anything (``freshness.py``) and by the attempt that builds it
(``pipeline.py``), and the only thing either compares.

The key takes:

* ``recipe``: :data:`RECIPE_VERSION`, layerctl's recipe for turning inputs into a zip (not its
  release version: an upgrade that builds the same zip from the same inputs rebuilds nothing);
* the target's Python and architecture, and the rows of the runtime table that choose what is
  installed (glibc, manylinux tags), not those only publishing or ``verify`` read;
* the requirement set as it applies to the target (markers evaluated; in-repo projects by the
  digest of their sources, never by where the checkout is), ``reqset.Applied.digest``;
* the decided builder, and what installs with it: a native build's uv version, a hybrid
  build's uv version and image digest, a container
  build's image digest (its id on the engine; never the image's name, so a mirror of the same
  image is the same key);
* the layer settings declared ``output=True`` in ``settings.py`` (``exclude``,
  ``exclude-runtime-provided``, ``include-project``, ``extras``, ``groups``, ``bytecode``,
  ``compression-level``);
* ``SOURCE_DATE_EPOCH`` (every entry's timestamp).

Nothing else: not ``verify-image``, not ``image`` (a native target is keyed by no image, a
container target by the digest of the one it used), not ``index-url``/``ca-bundle``, not run
flags (``jobs``, ``retries``, ``timeout``, the log format, ``report-dir``), not the checkout's
path, the user's home, cache directories or the machine: a copy of a built workspace, or
another runner with the same inputs, finds the same key.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from ..core.settings import LayerSettings, output_settings
from ..plan.targets import Target

__all__ = ["RECIPE_VERSION", "SETTINGS", "input_key", "key_material", "runtime_part", "settings_part"]

# Bump when layerctl would build a different zip from the same inputs (how it installs, fixes
# scripts, audits, compiles or zips); every target then rebuilds once, "build recipe changed".
RECIPE_VERSION = 4  # 2: compiles without debug information; 3: a local sdist built by its backend
# directly (hybrid), and no builder records a local file's path (direct_url.json) in the layer;
# 4: compression-level is applied (every zip was deflated at 6 whatever the setting)

SETTINGS = output_settings(LayerSettings)  # the settings that change what a target builds
# the runtime table's fields that choose what is installed (the others: publishing, verify, the
# default image, which a container target's image digest covers)
_RUNTIME_FIELDS = {"python", "os", "glibc", "manylinux", "uv_manylinux", "uv_manylinux_above"}


def settings_part(target: Target) -> dict[str, Any]:
    return target.settings.model_dump(mode="json", include=set(SETTINGS))


def runtime_part(target: Target) -> dict[str, Any]:
    return target.runtime.model_dump(mode="json", include=_RUNTIME_FIELDS)


def key_material(target: Target, requirements_digest: str, installer: str) -> dict[str, Any]:
    """What the key is made of (kept in the stamp, so a rebuild can say which part changed).
    ``installer``: the uv version (native) or the image digest (container) of the decided builder."""
    return {
        "recipe": RECIPE_VERSION,
        "python": target.python,
        "arch": target.arch.value,
        "runtime": runtime_part(target),
        "builder": target.builder,
        "installer": installer,
        "settings": settings_part(target),
        "requirements": requirements_digest,
        "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH", ""),
    }


def input_key(material: dict[str, Any]) -> str:
    """The key of ``key_material``: equal keys mean an identical zip."""
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()
