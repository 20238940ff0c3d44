"""The tables inside `[tool.layerctl]`: `publish` (``publish_settings.py``) and `engines`
(``engine_settings.py`` declares an entry), each validated on its own, an error naming the
table, the entry and its key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from ..core.engine_settings import EngineSettings, engine_entry
from ..core.errors import ConfigError
from ..core.publish_settings import PublishSettings, ShareSettings
from ..core.settings import kebab
from .checks import check_keys, validate

__all__ = ["ENGINES", "PUBLISH", "engines_table", "publish_table"]

PUBLISH = "publish"  # the [tool.layerctl.publish] table (publish_settings.py)
ENGINES = "engines"  # the [tool.layerctl.engines] table (engine_settings.py)


def _keys(model: type[BaseModel]) -> list[str]:
    return [kebab(name) for name in model.model_fields]


def engines_table(table: Mapping[str, Any], where: str) -> dict[str, EngineSettings]:
    """The ``[tool.layerctl.engines]`` table, each engine validated on its own (one-line errors
    naming the engine and its key)."""
    raw = table.get(ENGINES, {})
    where = f"{where.removesuffix(' [tool.layerctl]')} [tool.layerctl.engines]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table of engines (name = context, URL or table)")
    engines: dict[str, EngineSettings] = {}
    for name, value in raw.items():
        try:
            entry = engine_entry(name, value)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        check_keys(entry, _keys(EngineSettings), f"{where} {name}")
        try:
            engines[name] = EngineSettings.model_validate({kebab(k): v for k, v in entry.items()})
        except ValidationError as exc:
            err = exc.errors()[0]
            key = f"{err['loc'][0]}: " if err["loc"] else ""
            raise ConfigError(f"{where} {name}: {key}{err['msg'].removeprefix('Value error, ')}") from None
    return engines


def publish_table(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The keys set in a ``[tool.layerctl.publish]`` table (and its ``share``), validated."""
    raw = table.get(PUBLISH, {})
    where = f"{where.removesuffix(' [tool.layerctl]')} [tool.layerctl.publish]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    check_keys(raw, _keys(PublishSettings), where)
    share = raw.get("share", {})
    if isinstance(share, dict):
        check_keys(share, _keys(ShareSettings), f"{where} share")
    return validate(PublishSettings, raw, where)
