"""The read-only status page at ``/``: one server-rendered HTML page, no scripts, no build step.

``render`` is a pure function of a ``Snapshot``, which ``ingest.web.server`` assembles from the metrics
registry, the feeds' health and the last articles published. Everything shown is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import urlencode

from prometheus_client import Counter, Gauge

from ingest.metrics import STAGES, Metrics
from ingest.models import Article
from ingest.times import rfc3339
from ingest.web.chart import bar_chart

MAX_FEED_ROWS = 500
FEED_FILTERS = ("failing", "backing_off", "gone", "ok", "new")
REFRESH_S = 30


@dataclass(frozen=True, slots=True)
class StageCounts:
    stage: str
    items_in: int
    items_out: int
    dropped: int
    errors: int
    in_progress: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    now: datetime
    version: str
    ready: bool
    ready_detail: str
    published_total: int
    stages: Sequence[StageCounts]
    feeds: Sequence[Mapping[str, Any]]
    feed_filter: str | None
    recent: Sequence[Article]
    uptime_s: float = 0.0
    last_publish_at: datetime | None = None  # when Kafka last acknowledged an article
    dead_letters: int = 0  # since start
    broker: str = ""  # the bootstrap address
    broker_ok: bool = True  # acknowledging
    per_minute: Sequence[int | None] = ()  # articles in each of the last 60 minutes, oldest first
    last_5_min: int | None = None  # articles in the last 5 minutes (since start if shorter)
    last_hour: int | None = None  # articles in the last hour (since start if shorter)


def dead_letters_total(metrics: Metrics) -> int:
    return int(sum(_sums(metrics.dead_letters).values()))


def last_publish_at(metrics: Metrics) -> datetime | None:
    stamp = sum(_sums(metrics.last_publish).values())
    return datetime.fromtimestamp(stamp, UTC) if stamp > 0 else None


def _sums(*metrics: Counter | Gauge) -> dict[tuple[str, str], float]:
    """(sample name, stage) -> value summed over the other labels, for these metrics only (not a
    scrape of the whole registry, which would also read the workers' /proc files)."""
    sums: dict[tuple[str, str], float] = {}
    for metric in metrics:
        for family in metric.collect():
            for sample in family.samples:
                if not sample.name.endswith("_created"):
                    key = (sample.name, sample.labels.get("stage", ""))
                    sums[key] = sums.get(key, 0.0) + sample.value
    return sums


def stage_counts(metrics: Metrics) -> list[StageCounts]:
    """Per-stage totals (errors and drops summed over their reasons)."""
    sums = _sums(
        metrics.stage_items_in,
        metrics.stage_items_out,
        metrics.stage_dropped,
        metrics.stage_errors,
        metrics.stage_in_progress,
    )

    def total(name: str, stage: str) -> int:
        return int(sums.get((name, stage), 0.0))

    return [
        StageCounts(
            stage=stage,
            items_in=total("ingest_stage_items_in_total", stage),
            items_out=total("ingest_stage_items_out_total", stage),
            dropped=total("ingest_stage_items_dropped_total", stage),
            errors=total("ingest_stage_errors_total", stage),
            in_progress=total("ingest_stage_items_in_progress", stage),
        )
        for stage in STAGES
    ]


def published_total(metrics: Metrics) -> int:
    """Articles acknowledged since start, over every extraction method."""
    return int(sum(_sums(metrics.articles_published).values()))


def _ago(moment: datetime, now: datetime) -> str:
    seconds = (now - moment).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 90:
        text = f"{seconds:.0f} s"
    elif seconds < 5400:
        text = f"{seconds / 60:.0f} min"
    elif seconds < 172_800:
        text = f"{seconds / 3600:.0f} h"
    else:
        text = f"{seconds / 86400:.0f} days"
    return f"in {text}" if future else f"{text} ago"


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def _time(value: Any, now: datetime) -> str:
    """Relative time, with the exact UTC time as a tooltip."""
    moment = _moment(value)
    if moment is None:
        return "<span class=muted>never</span>" if value is None else escape(str(value))
    exact = rfc3339(moment)
    return f'<time datetime="{exact}" title="{exact}">{_ago(moment, now)}</time>'


def _link(url: str | None, text: str | None) -> str:
    label = escape(text or url or "(untitled)")
    if url and url.startswith(("http://", "https://")):
        return f'<a href="{escape(url)}" rel="noreferrer noopener">{label}</a>'
    return label


def _number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "<span class=muted>–</span>"
    return f"{value:,.{digits}f}"


def _stages_table(stages: Sequence[StageCounts]) -> str:
    rows = "".join(
        f"<tr><th scope=row>{escape(s.stage)}</th><td>{s.items_in:,}</td><td>{s.items_out:,}</td>"
        f"<td>{s.dropped:,}</td><td class={'bad' if s.errors else 'ok'}>{s.errors:,}</td>"
        f"<td>{s.in_progress:,}</td></tr>"
        for s in stages
    )
    return (
        "<table id=stages><caption>since the service started</caption><thead><tr><th>stage</th>"
        "<th>in</th><th>out</th><th>dropped</th><th>errors</th><th>in progress</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _filter_links(current: str | None, feeds: Sequence[Mapping[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for feed in feeds:
        counts[str(feed.get("state"))] = counts.get(str(feed.get("state")), 0) + 1
    links = [("all", None, len(feeds))] + [(f.replace("_", " "), f, counts.get(f, 0)) for f in FEED_FILTERS]
    parts = []
    for label, value, count in links:
        href = "/" if value is None else "/?" + urlencode({"state": value})
        text = f"{escape(label)} ({count:,})"
        if value == current:
            parts.append(f'<strong aria-current="page">{text}</strong>')
        else:
            parts.append(f'<a href="{href}">{text}</a>')
    return "<nav id=feed-filter>Show: " + " · ".join(parts) + "</nav>"


def _feed_row(feed: Mapping[str, Any], now: datetime) -> str:
    state = str(feed.get("state") or "new")
    status = feed.get("last_status")
    result = (
        escape(str(feed.get("last_error_reason") or ""))
        if state in ("failing", "backing_off", "gone")
        else (f"HTTP {int(status)}" if isinstance(status, int) else "")
    )
    errors = int(feed.get("consecutive_errors") or 0)
    detail = feed.get("last_error")
    if detail and result:
        result = f'<span title="{escape(str(detail))}">{result}</span>'
    name = _link(feed.get("url"), feed.get("name") or feed.get("url"))
    return (
        f'<tr class="feed {escape(state)}"><td>{name}</td>'
        f'<td><span class="state {escape(state)}">{escape(state.replace("_", " "))}</span></td>'
        f"<td>{_time(feed.get('last_polled_at'), now)}</td><td>{result}</td>"
        f"<td>{_time(feed.get('next_check_at'), now)}</td>"
        f"<td class={'bad' if errors else 'ok'}>{errors:,}</td>"
        f"<td>{_number(feed.get('entries_per_day'), 1)}</td></tr>"
    )


def _feeds_table(snapshot: Snapshot) -> str:
    wanted = snapshot.feed_filter
    shown = [f for f in snapshot.feeds if wanted is None or f.get("state") == wanted]
    rows = "".join(_feed_row(f, snapshot.now) for f in shown[:MAX_FEED_ROWS])
    if not shown:
        rows = "<tr><td colspan=7 class=muted>No feeds in this state.</td></tr>"
    more = (
        f"<p class=muted>Showing the first {MAX_FEED_ROWS:,} of {len(shown):,}; /feeds lists them all.</p>"
        if len(shown) > MAX_FEED_ROWS
        else ""
    )
    return (
        _filter_links(wanted, snapshot.feeds) + "<table id=feeds><thead><tr><th>feed</th><th>state</th>"
        "<th>last poll</th><th>result</th><th>next check</th><th>errors in a row</th>"
        f"<th>articles per day</th></tr></thead><tbody>{rows}</tbody></table>{more}"
    )


def _recent_list(snapshot: Snapshot) -> str:
    if not snapshot.recent:
        return "<section id=recent><h2>Last articles published</h2><p class=muted>None yet.</p></section>"
    items = []
    for article in snapshot.recent:
        source = article.source.site_name or article.source.feed_title or article.source.domain
        when = article.published_at or article.published_date
        stated = f" · published {_time(when.isoformat(), snapshot.now)}" if when else ""
        items.append(
            f"<li>{_link(article.url, article.title)} <span class=muted>— {escape(source)}"
            f"{stated} · {article.word_count:,} words</span></li>"
        )
    return f"<section id=recent><h2>Last articles published</h2><ol>{''.join(items)}</ol></section>"


_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1b1f24;background:#fff}
h1{font-size:1.4rem;margin:0 0 .5rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
table{border-collapse:collapse;margin:.5rem 0;min-width:40%}
caption{text-align:left;color:#656d76;padding:.3rem 0}
th,td{padding:.25rem .6rem;border-bottom:1px solid #d8dee4;text-align:left;vertical-align:top}
td{font-variant-numeric:tabular-nums}.muted{color:#656d76}.bad{color:#b42318;font-weight:600}
.state{padding:0 .4rem;border-radius:.6rem;background:#eef1f4}.state.ok{background:#dafbe1}
.state.failing,.state.gone{background:#ffe2e0}.state.backing_off{background:#fff1c2}
#summary{display:flex;gap:2rem;flex-wrap:wrap}#summary div{min-width:9rem}
#summary .figure{display:block;font-size:1.6rem;font-weight:600}nav{margin:.5rem 0}
svg .bar{fill:#2f81f7}svg .axis{stroke:#8c959f}svg .tick{font-size:10px;fill:#656d76}
"""


def _figure(label: str, element_id: str, value: str, *, bad: bool = False, note: str = "") -> str:
    """One headline figure; ``value`` and ``note`` are already HTML."""
    kind = "figure bad" if bad else "figure"
    figure = f'<span class="{kind}" id={element_id}>{value}</span>'
    small = f"<span class=muted>{note}</span>" if note else ""
    return f"<div class=stat><span class=muted>{label}</span> {figure}{small}</div>"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _since_start(window_s: float, uptime_s: float) -> str:
    """ " since start (12 min)" while the service has run for less than the window, else nothing."""
    return f" since start ({_duration(uptime_s)})" if uptime_s < window_s else ""


def _headline(snapshot: Snapshot) -> str:
    feeds = snapshot.feeds
    polled = [f for f in feeds if f.get("state") not in (None, "new")]
    failing = sum(1 for f in feeds if f.get("state") == "failing")
    never = sum(1 for f in polled if not f.get("last_success_at"))
    readiness = "ready" if snapshot.ready else f"not ready: {snapshot.ready_detail}"
    last = snapshot.last_publish_at
    broker = escape(snapshot.broker) if snapshot.broker else "–"
    return "".join(
        (
            _figure(
                "last article published",
                "last-article",
                _time(last, snapshot.now) if last else "<span class=muted>none yet</span>",
                bad=last is None and bool(polled),
            ),
            _figure(
                "articles, last 5 min",
                "last-5-min",
                _number(snapshot.last_5_min),
                note=_since_start(300, snapshot.uptime_s),
            ),
            _figure(
                "articles, last hour",
                "last-hour",
                _number(snapshot.last_hour),
                note=_since_start(3600, snapshot.uptime_s),
            ),
            _figure("published since start", "published", f"{snapshot.published_total:,}"),
            _figure(
                "dead letters", "dead-letters", f"{snapshot.dead_letters:,}", bad=snapshot.dead_letters > 0
            ),
            _figure(
                "feeds failing",
                "failing-count",
                f"{failing:,} of {len(feeds):,}",
                bad=failing > 0,
            ),
            _figure("feeds never succeeded", "never-count", f"{never:,}", bad=never > 0),
            _figure("uptime", "uptime", _duration(snapshot.uptime_s)),
            _figure(
                "Kafka",
                "broker",
                f"{broker} · {'acknowledging' if snapshot.broker_ok else 'not acknowledging'}",
                bad=not snapshot.broker_ok,
            ),
            _figure("service", "readiness", escape(readiness), bad=not snapshot.ready),
        )
    )


def render(snapshot: Snapshot) -> str:
    """The status page as a complete HTML document."""
    stamp = rfc3339(snapshot.now)
    chart = bar_chart(
        snapshot.per_minute or [None] * 60,
        label="Articles published per minute, last 60 minutes",
        element_id="per-minute",
    )
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f'<meta http-equiv="refresh" content="{REFRESH_S}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>ingest status</title><style>{_STYLE}</style></head><body>"
        f"<h1>ingest status</h1><p class=muted>version {escape(snapshot.version)} · {stamp} · "
        f"refreshes every {REFRESH_S} s · "
        '<a href="/metrics">metrics</a> · <a href="/feeds">feeds as JSON</a></p>'
        f"<section id=summary>{_headline(snapshot)}</section>"
        f"<h2>Articles published per minute, last hour</h2>{chart}"
        f"<h2>Pipeline</h2>{_stages_table(snapshot.stages)}"
        f"<h2>Feeds</h2>{_feeds_table(snapshot)}{_recent_list(snapshot)}</body></html>"
    )
