"""The installed package's version, read once where it is needed (the CLI's ``--version``, an
export bundle's producer, Help → About)."""

from __future__ import annotations

__all__ = ["package_version"]


def package_version() -> str:
    """``aos-trace-inspector``'s version, or ``"0"`` for a checkout that was never installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aos-trace-inspector")
    except PackageNotFoundError:
        return "0"
