"""Progress reporting that library code can use without ever printing.

Library functions take a ``progress`` factory with tqdm's calling convention
(``progress(total=..., desc=..., unit=...)`` returning an object with ``update(n)``
and ``close()``). The default reports nothing; the CLI passes a tqdm bar that
shows only on a terminal.
"""

from __future__ import annotations

from typing import Any, Protocol


class Bar(Protocol):
    def update(self, n: int = 1) -> Any: ...

    def close(self) -> None: ...


class ProgressFactory(Protocol):
    def __call__(self, *, total: int | None, desc: str, unit: str = "it") -> Bar: ...


class _NullBar:
    def update(self, n: int = 1) -> None:
        return None

    def close(self) -> None:
        return None


def no_progress(*, total: int | None, desc: str, unit: str = "it") -> Bar:
    """A progress factory that reports nothing."""
    return _NullBar()
