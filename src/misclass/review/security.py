"""Request checks for the review app: loopback addresses, Host names, bounded form parsing,
same-origin posts, CSRF tokens, safe redirects.

>>> is_loopback("127.0.0.2"), is_loopback("::1"), is_loopback("10.0.0.1")
(True, True, False)
>>> host_name("[::1]:8000"), host_name("Review.Lab:80"), host_name("127.0.0.1")
('::1', 'review.lab', '127.0.0.1')
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
from urllib.parse import parse_qsl, urlsplit

from misclass.errors import InputError

MAX_BODY = 16_384
MAX_FIELDS = 40
MAX_FIELD = 2_000
LOOPBACK = ("127.0.0.1", "localhost", "::1")
"""Host names a loopback server answers to besides the one it was started for."""


class Forbidden(Exception):
    """A request that must be refused (403): forged, cross-site or unauthenticated."""


def is_loopback(host: str | None, *, resolve: bool = True) -> bool:
    """True when ``host`` is an address in 127.0.0.0/8 or ``::1``, or (with ``resolve``) a name
    such as ``localhost`` whose every address is; a name is never judged by how it starts
    ("127.evil.com" is whatever it resolves to)."""
    if not host:
        return False
    host = host.strip().strip("[]").split("%")[0]
    try:
        return _loopback_ip(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not resolve:
        return False
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    return bool(infos) and all(_loopback_ip(ipaddress.ip_address(info[4][0].split("%")[0])) for info in infos)


def _loopback_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def host_name(value: str) -> str:
    """The name of a ``Host`` header value (or a bound address), without port or IPv6 brackets,
    in lower case."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    if value.count(":") > 1:  # a bare IPv6 address (a bound host, not a Host header)
        return value
    name, _, port = value.rpartition(":")
    return name.rstrip(".") if name and port.isdigit() else value.rstrip(".")


def allowed_host_names(bound: str, extra: tuple[str, ...] = ()) -> frozenset[str]:
    """The Host names a server bound to ``bound`` answers to: that address, the loopback names
    when it is loopback, and ``extra`` (each a host name or address; no ports, no wildcards)."""
    names = {host_name(bound)}
    if is_loopback(bound):
        names.update(LOOPBACK)
    for name in extra:
        clean = host_name(name)
        if not clean or any(ch in clean for ch in "/\\*@ "):
            raise InputError(f"--allowed-host {name!r}: expected a host name or address, e.g. review.lab")
        names.add(clean)
    return frozenset(names)


def parse_form(body: bytes, content_type: str) -> dict[str, str]:
    """Fields of an ``application/x-www-form-urlencoded`` body; too large, too many fields or a
    field longer than :data:`MAX_FIELD` is an :class:`InputError` naming the field."""
    if len(body) > MAX_BODY:
        raise InputError(f"request body of {len(body)} bytes; at most {MAX_BODY}")
    if body and "application/x-www-form-urlencoded" not in (content_type or ""):
        raise InputError("expected a form (application/x-www-form-urlencoded)")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                          max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError:
        raise InputError("form is not UTF-8") from None
    except ValueError:
        raise InputError(f"form has more than {MAX_FIELDS} fields") from None
    out: dict[str, str] = {}
    for k, v in pairs:
        if len(v) > MAX_FIELD or len(k) > 100:
            raise InputError(f"field {k[:100]!r}: {len(v)} characters; at most {MAX_FIELD}")
        out[k] = v
    return out


def check_same_origin(headers, host: str) -> None:
    """Refuse a post that a browser marks as coming from another site."""
    if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise Forbidden("cross-site request refused")
    origin = headers.get("origin")
    if origin and origin != "null":
        if urlsplit(origin).netloc != host:
            raise Forbidden(f"request from origin {origin} refused")
    elif origin == "null":
        raise Forbidden("request from an opaque origin refused")


def check_csrf(expected: str, given: str | None) -> None:
    """Refuse a post whose CSRF token is missing or wrong."""
    if not expected or not given or not hmac.compare_digest(expected, given):
        raise Forbidden("missing or wrong CSRF token; reload the page")


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to redirect to (no scheme, host or protocol-relative ``//``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def int_field(form: dict[str, str], name: str, *, required: bool = True) -> int | None:
    """An integer form field (None when absent and not required)."""
    value = form.get(name, "").strip()
    if not value:
        if required:
            raise InputError(f"field {name!r}: missing")
        return None
    try:
        return int(value)
    except ValueError:
        raise InputError(f"field {name!r}: {value[:40]!r} is not an integer") from None
