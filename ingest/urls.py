"""URL canonicalisation and article identity.

``canonicalize`` is idempotent: canonicalize(canonicalize(u)) == canonicalize(u). Two links to the same
article that differ only by case of scheme/host, a default port, a fragment or tracking parameters get
the same canonical URL, hence the same article id.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

# Longer URLs are not requested (and not taken as links by the feed parsers): the sitemap protocol's
# limit, above what any news site uses.
MAX_URL_CHARS = 2048
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")

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


def host_problem(host: str) -> str | None:
    """Why ``host`` (a name in its ASCII form, as a URL holds it; not an IP literal) cannot be
    requested, or None: an empty or over-long label, a character a host name cannot hold, or an
    ``xn--`` label that is not valid Punycode."""
    name = host.rstrip(".").lower()
    if not name or len(name) > 253:
        return "the host name is empty or longer than 253 characters"
    for label in name.split("."):
        if not _LABEL.fullmatch(label):
            return f"the host name has an invalid label {label[:70]!r}"
        if label.startswith("xn--"):
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError:
                return f"the host name has an invalid IDNA label {label!r}"
    return None


def article_id(key: str) -> str:
    """Stable article id: the first 32 hex digits of sha256 of the identity key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def domain_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()
