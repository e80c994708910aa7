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
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from adseed.errors import ConfigError

DEFAULT_HOME = "./adseed-workspace"
PATHS = {"home", "cache_dir"}
# Settings that also accept the provider's own environment variable when nothing else sets them.
PROVIDER_ENV = {"replicate_api_token": "REPLICATE_API_TOKEN", "openai_api_key": "OPENAI_API_KEY"}


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
    # copy stage (adseed.copy): the writer, and the chat endpoint the "openai" writer calls
    copy_writer: str = "template"
    copy_schema: str = "main.default"  # the copy table is governed as <copy_schema>.copy
    copy_variants: int = 3
    copy_model: str = "gpt-4o-mini"
    copy_base_url: str = "https://api.openai.com/v1"
    copy_api_key: str = field(default="", repr=False)  # never printed with the settings
    copy_timeout_s: int = 60
    copy_schema_retries: int = 2  # asks again when the answer breaks schema or limits
    copy_http_retries: int = 3  # 429, 5xx, timeouts
    # Hosted generation backends. Keys fall back to the providers' own variables
    # (REPLICATE_API_TOKEN, OPENAI_API_KEY) and are kept out of repr() so they never
    # reach a log line or a trace.
    replicate_api_token: str = field(default="", repr=False)
    replicate_base_url: str = "https://api.replicate.com"
    replicate_model: str = "flux-kontext-apps/multi-image-kontext-pro"
    openai_api_key: str = field(default="", repr=False)
    openai_base_url: str = "https://api.openai.com/v1"
    openai_image_model: str = "gpt-image-1"
    openai_image_quality: str = "auto"  # low | medium | high | auto
    openai_input_fidelity: str = "high"  # high | low | "" (not sent)
    request_timeout_s: float = 120.0  # one HTTP request (an image edit can take a minute)
    generation_timeout_s: float = 300.0  # one ad, all attempts and polling included
    max_attempts: int = 5  # per HTTP operation, first try included
    retry_base_delay_s: float = 1.0
    retry_max_delay_s: float = 30.0
    # Local image-conditioned pipeline (FLUX Kontext): a folder, never a hub id.
    diffusers_model: str = ""
    diffusers_steps: int = 28
    diffusers_guidance_scale: float = 2.5
    diffusers_resolution: int = 1024  # generated at about this many pixels squared
    # Audiences (adseed.audience): user vectors from behaviour events.
    audience_schema: str = "main.default"  # events are governed as <audience_schema>.events
    audience_half_life_days: float = 30.0  # 0: no time decay
    audience_weight_view: float = 1.0
    audience_weight_click: float = 3.0
    audience_weight_purchase: float = 10.0
    audience_exact_below: int = 20_000  # users under which lookalike search is exact
    audience_nprobe: int = 16  # IVF lists scanned per query above that (bench/audience.py)
    # blend of each item's vector with the items its users also engaged with (0: embeddings
    # only); the user space is refitted on rebuilds (adseed/audience/space.py)
    audience_coengagement: float = 0.8
    agent_chat: str = "persona"  # the agent's chat model: persona (offline), openai, fake
    chat_base_url: str = ""  # an OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1
    chat_model: str = ""  # the model name that endpoint serves
    chat_api_key: str = ""
    chat_timeout_s: int = 60
    persona_library: str = ""  # a persona JSON file; empty: the packaged one
    agent_url: str = "http://127.0.0.1:8080"  # where `adseed app` finds `adseed serve`
    # Generation service (adseed.generate): the default backend, the compositor's font
    # (empty: Pillow's bundled Aileron, CC0), and where request traces go (empty: the
    # workspace's own MLflow store, sqlite:///<home>/mlflow.db).
    generator: str = "compositor"
    ad_font: str = ""
    tracking_uri: str = ""

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
        if kind is float:
            return float(raw)
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
    _provider_env_fallback(values, env)
    values.update(flags)
    values["home"] = home  # the file lives in home, so only env and flags choose home

    unknown = sorted(set(values) - set(kinds))
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    coerced = {name: _coerce(name, raw, kinds[name]) for name, raw in values.items()}
    settings = Settings(**coerced)
    _check_ranges(settings)
    return dataclasses.replace(
        settings, home=settings.home.resolve(), cache_dir=settings.cache_dir.expanduser()
    )


def _provider_env_fallback(values: dict[str, Any], env: Mapping[str, str]) -> None:
    """Let ``OPENAI_API_KEY`` & co. fill a key nothing else set, as the providers' SDKs do."""
    for name, var in PROVIDER_ENV.items():
        if name not in values and env.get(var):
            values[name] = env[var]


def _check_ranges(settings: Settings) -> None:
    """Refuse values that would make a stage loop forever or never try at all."""
    if settings.batch_size < 1 or settings.max_pixels < 1:
        raise ConfigError("batch_size and max_pixels must be positive")
    if settings.diffusers_steps < 1 or settings.diffusers_resolution < 16:
        raise ConfigError("diffusers_steps must be positive and diffusers_resolution at least 16")
    if settings.max_attempts < 1:
        raise ConfigError("max_attempts must be at least 1 (the first try counts)")
    timeouts = ("request_timeout_s", "generation_timeout_s", "retry_max_delay_s")
    for name in timeouts:
        if getattr(settings, name) <= 0:
            raise ConfigError(f"{name} must be positive")
    if settings.retry_base_delay_s < 0:
        raise ConfigError("retry_base_delay_s must not be negative")
