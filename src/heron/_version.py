from __future__ import annotations

__title__ = "heron"
__description__ = "A fast, correct HTTP client for Python, sync and async, compatible with httpx."
__version__ = "0.1.0.dev0"
