"""Shop names: the name of today's single shop, and the rule every name entering the store obeys.

A shop's name is a key in rows, metric labels and `--shop`, so it stays short and plain:
lower-case letters, digits, ``_`` and ``-``, starting with a letter or digit, at most 40.
"""

from __future__ import annotations

import re

from trackside.errors import TracksideError

#: The shop of environment-only configuration, and of every row a single-shop release wrote.
DEFAULT_SHOP = "default"
SHOP_NAME_RULE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


class ShopNameError(TracksideError, ValueError):
    """A shop name that breaks :data:`SHOP_NAME_RULE`; the message names the field."""


def checked_shop(name: object, field: str = "shop") -> str:
    """``name`` if it is a valid shop name, else ShopNameError naming ``field`` and why."""
    if not isinstance(name, str) or SHOP_NAME_RULE.fullmatch(name) is None:
        shown = repr(name)[:60]
        raise ShopNameError(
            f"{field}: {shown} is not a shop name (1 to 40 of a-z, 0-9, '_' and '-', "
            "starting with a letter or a digit)")
    return name
