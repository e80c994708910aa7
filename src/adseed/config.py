"""Settings, resolved once into a frozen object: defaults < file < ``ADSEED_*`` env < flags.

The file is ``<home>/adseed.toml`` (or the path in ``ADSEED_CONFIG``); every key is
a field of :class:`Settings`. Environment variables are the upper-cased field
names with the ``ADSEED_`` prefix, e.g. ``ADSEED_EMBEDDER=clip``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from adseed.errors import ConfigError

DEFAULT_HOME = "./adseed-workspace"
PATHS = {"home", "cache_dir"}


@dataclass(frozen=True)
class Settings:
    """Every knob of adseed, with its default. Build it with :func:`resolve_settings`."""

    home: Path = Path(DEFAULT_HOME)
    embedder: str = "conse"
    clip_model: str = "ViT-B-32"
    clip_pretrained: str = "laion2b_s34b_b79k"
    device: str = "cpu"
    threads: int = 0  # 0: torch's default for this machine
    batch_size: int = 32
    max_pixels: int = 40_000_000
    max_file_bytes: int = 50 * 1024 * 1024
    ingest_commit_every: int = 256
    exact_search_below: int = 20_000  # a flat scan of 20k × 384 takes ~9 ms on 2 cores
    default_k: int = 10
    cache_dir: Path = Path("~/.cache/adseed")  # exported models and label vectors
    token: str = ""  # the acting principal's API token; empty: the workspace owner's
    agent_chat: str = "persona"  # the agent's chat model: persona (offline), openai, fake
    chat_base_url: str = ""  # an OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1
    chat_model: str = ""  # the model name that endpoint serves
    chat_api_key: str = ""
    chat_timeout_s: int = 60
    persona_library: str = ""  # a persona JSON file; empty: the packaged one
    agent_url: str = "http://127.0.0.1:8080"  # where `adseed app` finds `adseed serve`

    @property
    def volumes_root(self) -> Path:
        return self.home / "Volumes"

    @property
    def tables_root(self) -> Path:
        return self.home / "tables"

    @property
    def index_root(self) -> Path:
        return self.home / "index"


def _coerce(name: str, raw: Any, kind: type) -> Any:
    try:
        if kind is Path:
            return Path(str(raw)).expanduser()
        if kind is int:
            return int(raw)
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name!r}: cannot read {raw!r} as {kind.__name__}") from exc


def resolve_settings(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Merge defaults < config file < environment < flags into one frozen Settings.

    ``flags`` with value None are ignored, so CLI options that were not given do
    not override anything.
    """
    env = os.environ if env is None else env
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    kinds = {f.name: type(f.default) if f.name not in PATHS else Path for f in fields(Settings)}
    values: dict[str, Any] = {}

    home = flags.get("home") or env.get("ADSEED_HOME") or DEFAULT_HOME
    config_file = Path(env.get("ADSEED_CONFIG") or Path(home) / "adseed.toml")
    if config_file.is_file():
        try:
            values.update(tomllib.loads(config_file.read_text()))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{config_file}: not valid TOML ({exc})") from exc
    for name in kinds.keys() - {"home"}:
        key = "ADSEED_" + name.upper()
        if key in env:
            values[name] = env[key]
    values.update(flags)
    values["home"] = home  # the file lives in home, so only env and flags choose home

    unknown = sorted(set(values) - set(kinds))
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    coerced = {name: _coerce(name, raw, kinds[name]) for name, raw in values.items()}
    settings = Settings(**coerced)
    if settings.batch_size < 1 or settings.max_pixels < 1:
        raise ConfigError("batch_size and max_pixels must be positive")
    return dataclasses.replace(
        settings, home=settings.home.resolve(), cache_dir=settings.cache_dir.expanduser()
    )
