"""The one registry behind every backend kind: entry points, with built-in fallbacks.

Built-in backends register in ``pyproject.toml`` exactly like third-party ones
(``[project.entry-points."adseed.<kind>"]``). A stage may also name its built-ins here,
so they resolve even under package metadata older than the stage (an editable install
made before it existed); an entry point of the same name wins.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from adseed.errors import ConfigError


def registered(group: str, builtins: Mapping[str, str] | None = None) -> dict[str, str]:
    """Names → ``module:attr`` for one entry-point group, built-ins first."""
    return {**(builtins or {}), **{ep.name: ep.value for ep in entry_points(group=group)}}


def build(
    group: str, name: str, settings: Any, what: str, builtins: Mapping[str, str] | None = None
) -> Any:
    """Instantiate the plugin ``name`` of ``group`` with ``from_settings(settings)``."""
    targets = registered(group, builtins)
    if name not in targets:
        known = ", ".join(sorted(targets)) or "none (is adseed installed?)"
        raise ConfigError(f"unknown {what} {name!r}; registered: {known}")
    module, _, attr = targets[name].partition(":")
    return getattr(importlib.import_module(module), attr).from_settings(settings)
