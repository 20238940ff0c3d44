"""A table's keys checked (unknown keys get a "did you mean") and validated by the model they
belong to, each error one line naming where the key came from (``config.py``, ``tables.py``)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from ..core.engine_settings import EngineSettings
from ..core.errors import ConfigError
from ..core.publish_settings import PublishSettings
from ..core.run_settings import RunFlags, WorkspaceOptions
from ..core.settings import LayerOnly, LayerSettings, kebab

__all__ = ["SettingsModel", "check_keys", "validate"]

SettingsModel = (
    type[LayerSettings]
    | type[WorkspaceOptions]
    | type[LayerOnly]
    | type[RunFlags]
    | type[PublishSettings]
    | type[EngineSettings]
)


def check_keys(table: Mapping[str, Any], allowed: list[str], where: str, *, hint: str = "") -> None:
    for key in table:
        if key in allowed:
            continue
        guess = difflib.get_close_matches(key, allowed, n=1)
        suggestion = (
            f"; did you mean '{guess[0]}'?" if guess else f"; known keys: {', '.join(sorted(allowed))}"
        )
        raise ConfigError(f"{where}: unknown key {key!r}{suggestion}{hint}")


def validate(
    model: SettingsModel,
    table: Mapping[str, Any],
    where: str,
    *,
    label: Callable[[str], str] = repr,
) -> dict[str, Any]:
    """Validate the keys of ``table`` that belong to ``model``; return only those set, by field name.
    ``label`` names a key in errors (the key itself; an environment variable for the environment)."""
    fields = {kebab(name) for name in model.model_fields}
    subset = {kebab(k): v for k, v in table.items() if kebab(k) in fields}
    try:
        parsed = model.model_validate(subset)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = str(err["loc"][0]) if err["loc"] else "?"
        msg = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{where}: {label(loc)}: {msg}") from None
    return {name: getattr(parsed, name) for name in parsed.model_fields_set}
