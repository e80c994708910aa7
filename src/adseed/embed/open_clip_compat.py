"""Importing ``open_clip`` where no usable torchvision exists.

open_clip imports a few torchvision names at module level (transforms, ops), but the
only torchvision wheels on PyPI for torch 2.13 are CUDA builds whose C extension cannot
load beside the CPU torch adseed pins (``operator torchvision::nms does not exist``,
pytorch/vision#9077). So, only while open_clip imports, stand-in modules answer those
names; they are removed right after, so no other library ever sees them. adseed does
CLIP's preprocessing itself (see clip.py), so nothing from the stand-ins is ever called.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from adseed.errors import BackendError, ConfigError

# open_clip's own dependencies would pull torchvision (and, unpinned, a CUDA torch): no deps.
INSTALL_HINT = "pip install 'adseed[clip]' && pip install --no-deps 'open_clip_torch>=3.3,<4'"
_IMPORT_LOCK = threading.Lock()


class _NeedsTorchvision:
    """Placeholder for a torchvision class: importable, but building one is a bug here."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise BackendError(f"torchvision.{type(self).__name__} needs a working torchvision")


def _stand_in(name: str, **attrs: Any) -> types.ModuleType:
    """A module whose unknown attributes are placeholders, so ``from m import X`` works."""
    module = types.ModuleType(name, "adseed stand-in for torchvision (import-time names only)")
    module.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
    module.__path__ = []
    module.__dict__.update(attrs)

    def __getattr__(attr: str) -> type:  # PEP 562: module-level attribute hook
        if attr.startswith("__"):
            raise AttributeError(attr)
        return type(attr, (_NeedsTorchvision,), {})

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    return module


def _torchvision_stand_ins() -> dict[str, types.ModuleType]:
    functional = _stand_in("torchvision.transforms.functional")
    # InterpolationMode.BICUBIC is read at import time, as a default argument.
    modes = types.SimpleNamespace(NEAREST="nearest", BILINEAR="bilinear", BICUBIC="bicubic")
    transforms = _stand_in("torchvision.transforms", functional=functional, InterpolationMode=modes)
    misc = _stand_in("torchvision.ops.misc")
    ops = _stand_in("torchvision.ops", misc=misc)
    root = _stand_in("torchvision", transforms=transforms, ops=ops, __version__="0+adseed")
    return {m.__name__: m for m in (root, transforms, functional, ops, misc)}


def _forget_modules(prefix: str) -> None:
    for name in [n for n in sys.modules if n == prefix or n.startswith(prefix + ".")]:
        del sys.modules[name]


def _torchvision_usable() -> bool:
    """True when torchvision imports; a failed import leaves no half-imported modules."""
    if importlib.util.find_spec("torchvision") is None:
        return False
    try:
        importlib.import_module("torchvision.transforms")
    except Exception:  # a CUDA build next to CPU torch raises RuntimeError, not ImportError
        _forget_modules("torchvision")
        return False
    return True


@contextmanager
def _stand_ins_installed() -> Iterator[None]:
    """Stand-ins for torchvision (and a blocked timm, which needs the real one) during import."""
    installed = _torchvision_stand_ins()
    block_timm = "timm" not in sys.modules
    sys.modules.update(installed)
    if block_timm:
        sys.modules["timm"] = None  # type: ignore[assignment]  # makes `import timm` fail
    try:
        yield
    finally:
        for name, module in installed.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
        if block_timm and sys.modules.get("timm", ...) is None:
            del sys.modules["timm"]
        _forget_cached_availability()


def _forget_cached_availability() -> None:
    """Drop transformers' cached "is torchvision/timm installed?" answers.

    open_clip imports transformers, which caches (lru_cache) whether torchvision exists;
    asked while the stand-ins were in sys.modules the answer is "yes" for the rest of the
    process, and any later transformers image processor (e.g. the one diffusers' FLUX
    Kontext pipeline imports) then fails to import. Cleared, they are asked again.
    """
    import_utils = sys.modules.get("transformers.utils.import_utils")
    for name, value in vars(import_utils or types.ModuleType("none")).items():
        if ("torchvision" in name or "timm" in name) and hasattr(value, "cache_clear"):
            value.cache_clear()


def import_open_clip() -> types.ModuleType:
    """Import open_clip, behind the torchvision stand-in when no usable torchvision exists.

    Public so that callers can reach open_clip's own API (``add_model_config``,
    ``list_pretrained``) the same way this module does.
    """
    with _IMPORT_LOCK:
        if (loaded := sys.modules.get("open_clip")) is not None:
            return loaded
        if importlib.util.find_spec("open_clip") is None:
            raise ConfigError(f"the clip embedder needs open_clip: {INSTALL_HINT}")
        try:
            if _torchvision_usable():
                return importlib.import_module("open_clip")
            with _stand_ins_installed():
                return importlib.import_module("open_clip")
        except Exception as exc:
            _forget_modules("open_clip")
            raise ConfigError(
                f"open_clip is installed but does not import ({type(exc).__name__}: {exc}); "
                f"reinstall it with {INSTALL_HINT}"
            ) from exc
