"""SHA-256 helpers: lowercase hex, as in Meta's examples.

https://developers.facebook.com/documentation/ads-commerce/conversions-api/parameters/customer-information-parameters
"""

from __future__ import annotations

import pytest

from trackside.identity import is_sha256_hex, sha256_hex
from trackside.identity.hashing import passthrough_hash

EMAIL_HASH = "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("john_smith@gmail.com", EMAIL_HASH),
        ("us", "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"),
        ("valéry", "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c"),
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ],
)
def test_sha256_hex(text: str, expected: str) -> None:
    assert sha256_hex(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (EMAIL_HASH, True),
        (EMAIL_HASH.upper(), True),
        (EMAIL_HASH[:63], False),
        (EMAIL_HASH + "0", False),
        (EMAIL_HASH[:63] + "g", False),
        ("d41d8cd98f00b204e9800998ecf8427e", False),  # MD5 is not taken as SHA-256
        (EMAIL_HASH + "\n", False),
        ("٠" * 64, False),  # Arabic-Indic digits are not hex
        ("", False),
    ],
)
def test_is_sha256_hex(text: str, expected: bool) -> None:
    assert is_sha256_hex(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (EMAIL_HASH, EMAIL_HASH),
        (EMAIL_HASH.upper(), EMAIL_HASH),
        (EMAIL_HASH + ".ABcDEFGh", EMAIL_HASH + ".ABcDEFGh"),
        (EMAIL_HASH.upper() + ".AQ", EMAIL_HASH + ".AQ"),
        (EMAIL_HASH + ".ABC", None),
        (EMAIL_HASH + ".AB$DEFGh", None),
        ("john@example.com", None),
    ],
)
def test_passthrough_hash(text: str, expected: str | None) -> None:
    assert passthrough_hash(text) == expected
