"""The appendix Meta's Parameter Builder adds to _fbp/_fbc, computed from Meta's description
(https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameter-builder-library):
six bytes, base64url without padding: format 1, language (2 = Python),
change type, then the library's major, minor and patch version."""

from __future__ import annotations

import base64
from importlib.metadata import version

NO_CHANGE, NET_NEW, MODIFIED = 0, 2, 3


def appendix(change: int) -> str:
    major, minor, patch = (int(part) for part in version("capi-param-builder-python").split("."))
    raw = bytes([1, 2, change, major, minor, patch])
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def change_of(value: str) -> int:
    """The change-type byte of a five-part value's appendix."""
    last = value.rsplit(".", 1)[1]
    return base64.urlsafe_b64decode(last + "=" * (-len(last) % 4))[2]
