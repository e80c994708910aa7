"""Settings precedence: defaults < file < ADSEED_* env < flags; bad input names itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from adseed.config import Settings, resolve_settings
from adseed.errors import ConfigError


def test_defaults(tmp_path: Path) -> None:
    s = resolve_settings({"home": tmp_path}, env={})
    assert s.home == tmp_path.resolve()
    assert s.embedder == Settings.embedder
    assert s.volumes_root == tmp_path.resolve() / "Volumes"


def test_precedence_file_env_flags(tmp_path: Path) -> None:
    (tmp_path / "adseed.toml").write_text('embedder = "clip"\nbatch_size = 8\ndefault_k = 4\n')
    env = {"ADSEED_HOME": str(tmp_path), "ADSEED_BATCH_SIZE": "16"}
    s = resolve_settings({"default_k": None}, env=env)
    assert (s.embedder, s.batch_size, s.default_k) == ("clip", 16, 4)
    s = resolve_settings({"batch_size": 2}, env=env)
    assert s.batch_size == 2


def test_settings_are_frozen(tmp_path: Path) -> None:
    s = resolve_settings({"home": tmp_path}, env={})
    with pytest.raises(AttributeError):
        s.embedder = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("embedder = ", "not valid TOML"),
        ("colour = 'blue'", "unknown setting(s): colour"),
        ("batch_size = 'many'", "batch_size"),
        ("batch_size = 0", "must be positive"),
    ],
)
def test_bad_config_file(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "adseed.toml").write_text(content)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_settings({"home": tmp_path}, env={})
