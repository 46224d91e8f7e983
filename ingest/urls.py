"""URL canonicalisation and article identity.

``canonicalize`` is idempotent: canonicalize(canonicalize(u)) == canonicalize(u). Two links to the same
article that differ only by case of scheme/host, a default port, a fragment or tracking parameters get
the same canonical URL, hence the same article id.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

TRACKING_PREFIXES = ("utm_", "mtm_", "pk_", "at_", "__hs", "_hs")
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "ocid",
        "cmpid",
        "icid",
        "ncid",
        "sr_share",
        "smid",
        "wt_mc",
        "wt.mc_id",
        "cid_source",
        "spm",
        "share",
        "ref_src",
        "ref_url",
        "rss",
        "s_cid",
    }
)
DEFAULT_PORTS = {"http": 80, "https": 443}
_SAFE_PATH = "/:@!$&'()*+,;=-._~"


def is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def canonicalize(url: str) -> str:
    """Canonical form of an absolute http(s) URL. Raises ``ValueError`` for anything else."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"not an http(s) URL: {url!r}")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError(f"URL has no host: {url!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"URL has an invalid port: {url!r}") from exc
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = quote(unquote(parts.path), safe=_SAFE_PATH) or "/"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking_param(k)]
    return urlunsplit((scheme, netloc, path, urlencode(query, quote_via=quote), ""))


def article_id(key: str) -> str:
    """Stable article id: the first 32 hex digits of sha256 of the identity key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def domain_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()
