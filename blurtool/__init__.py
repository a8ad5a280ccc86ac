"""blurtool: find where a photo is blurred and how, and edit photos with that map.

Heavy modules (torch, OpenCV) are imported lazily so that `blurtool --help` stays instant.
"""

__version__ = "0.1.0"

_LAZY = {
    "BlurDetector": "blurtool.inference",
    "BlurResult": "blurtool.inference",
    "read_image": "blurtool.io",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'blurtool' has no attribute {name!r}")
