"""Import heavy optional dependencies only where they are used."""

from __future__ import annotations

import importlib
from types import ModuleType

from misclass.errors import MissingExtraError


def require(module: str, extra: str, *, feature: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming the extra to install.

    Parameters
    ----------
    module
        Dotted module name, e.g. ``"imagenet_x"``.
    extra
        The misclass extra that provides it, e.g. ``"imagenet"``.
    feature
        What needed it, for the message.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        what = f"{feature} needs" if feature else "This feature needs"
        raise MissingExtraError(
            f"{what} the optional package {module!r}: pip install 'misclass[{extra}]'"
        ) from exc
