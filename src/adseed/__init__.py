"""adseed: audience segments to on-brand ad creative grounded in the brand's own photos."""

from adseed.config import Settings, resolve_settings
from adseed.errors import AdseedError
from adseed.workspace import Workspace

__all__ = ["AdseedError", "Settings", "Workspace", "resolve_settings"]
__version__ = "0.1.0"
