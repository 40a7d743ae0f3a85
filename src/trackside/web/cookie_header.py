"""The beacon answer's ``Set-Cookie`` headers (_fbp, _fbc), without ``http.cookies`` when it
can.

Starlette's ``Response.set_cookie`` builds a ``SimpleCookie`` per cookie: about 6 µs each, a
few percent of a beacon's CPU (bench/stages.py). For the values trackside makes (Meta's
``fb.1.<ms>.<digits or click id>``) the header is plain text that needs no quoting, so it is
written directly; anything else (a click id with other characters, an unusual cookie domain)
goes through ``set_cookie`` as before. tests/unit/test_cookie_header.py checks the two give
the same bytes.
"""

from __future__ import annotations

import re

from starlette.responses import Response

#: What SimpleCookie sends as it is (a subset of http.cookies._LegalChars, never quoted).
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9._-]+")
_PLAIN_DOMAIN = re.compile(r"[A-Za-z0-9.-]+")


def set_cookie(response: Response, name: str, value: str, *, max_age: int,
               domain: str | None, secure: bool) -> None:
    """``response.set_cookie(name, value, max_age=max_age, path="/", domain=domain,
    secure=secure, httponly=False, samesite="lax")``, the same header."""
    if (_PLAIN_VALUE.fullmatch(name) and _PLAIN_VALUE.fullmatch(value)
            and (domain is None or _PLAIN_DOMAIN.fullmatch(domain))):
        # SimpleCookie's order: the attributes sorted by their lowercase names.
        header = f"{name}={value}"
        if domain is not None:
            header += f"; Domain={domain}"
        header += f"; Max-Age={max_age}; Path=/; SameSite=lax"
        if secure:
            header += "; Secure"
        response.raw_headers.append((b"set-cookie", header.encode("latin-1")))
        return
    response.set_cookie(name, value, max_age=max_age, path="/", domain=domain, secure=secure,
                        httponly=False, samesite="lax")
