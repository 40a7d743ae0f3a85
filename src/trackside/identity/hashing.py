"""SHA-256 hashing of normalized customer information.

Every contact key is the SHA-256 hex digest of the UTF-8 bytes of the normalized value; Meta's
examples are lowercase hex
(https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/customer-information-parameters).
A value that already is 64 hex characters is taken as hashed (what Meta's own SDKs do, e.g.
facebook-business 26.0.3) so that a source which hashes on its side is never hashed twice.
"""

from __future__ import annotations

import re
from hashlib import sha256

__all__ = ["HASHED_WITH_APPENDIX", "is_sha256_hex", "passthrough_hash", "sha256_hex"]

# re.ASCII and explicit ranges: str.isdigit()/\d would accept non-ASCII digits.
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
#: A hash carrying Meta's Parameter Builder appendix ``.<2 or 8 chars>``
#: (https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameter-builder-library).
HASHED_WITH_APPENDIX = re.compile(r"([0-9a-fA-F]{64})(\.[A-Za-z0-9_-]{2}|\.[A-Za-z0-9_-]{8})")


def sha256_hex(text: str) -> str:
    """Lowercase hex SHA-256 of the UTF-8 bytes of ``text``."""
    return sha256(text.encode("utf-8")).hexdigest()


def is_sha256_hex(text: str) -> bool:
    """True for exactly 64 hexadecimal characters, either case."""
    return isinstance(text, str) and len(text) == 64 and _SHA256_HEX.fullmatch(text) is not None


def passthrough_hash(text: str) -> str | None:
    """An already-hashed value in its canonical form, or None if ``text`` is not a hash.

    Plain 64 hex → lowercased (Meta's examples are lowercase; rule 23 in
    destinations/meta/rules/events.py). ``<64 hex>.<appendix>`` → hex part lowercased, appendix
    kept verbatim: the appendix is case-sensitive base64url and must reach Meta unchanged.
    """
    length = len(text)
    if length == 64:
        return text.lower() if _SHA256_HEX.fullmatch(text) else None
    if length in (67, 73):
        match = HASHED_WITH_APPENDIX.fullmatch(text)
        if match is not None:
            return match.group(1).lower() + match.group(2)
    return None
