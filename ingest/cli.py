"""Command line: the only place that reads the environment and installs signal handlers.

ingest run [--config FILE] [--once] [--role all|poller|worker]
ingest extract FILE --url URL
ingest check-config [--config FILE]
ingest healthcheck [--config FILE]
ingest tail [--config FILE] [--topic T] [--from-beginning | -n N] [--follow] [--json]
ingest discover [--config FILE] URL
ingest backfill SOURCE... [--config FILE] [--since DATE] [--until DATE] [--host PATTERN]... [--topic T]
                [--base-url URL] [--republish] [--restart] [--metrics-port N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from ingest import __version__, logs
from ingest.config import Settings, load_settings
from ingest.errors import ConfigError, FatalError, IngestError, UsageError
from ingest.source.archives import COMMON_CRAWL, is_url

if TYPE_CHECKING:
    from ingest.service import Service

log = logging.getLogger("ingest")

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_CONFIG = 2
EXIT_USAGE = 2  # as argparse's own usage errors
EXIT_UNACKED = 3
EXIT_SIGNAL = 130
CONFIG_ENV = "INGEST_CONFIG"


def _setup_logging(level: str, fmt: str, *, bars: bool = False) -> None:
    """``bars``: progress bars are drawn on stderr, the log lines are written above them."""
    logs.setup(level, fmt, stream=logs.AboveBars() if bars else None)


def _config_path(args: argparse.Namespace) -> Path | None:
    value = args.config or os.environ.get(CONFIG_ENV)
    return Path(value) if value else None


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(_config_path(args))


def _url_argument(value: str, name: str) -> None:
    """Refuse a URL given on the command line that the service could not take (a usage error)."""
    from ingest.urls import canonicalize

    try:
        canonicalize(value)
    except ValueError as exc:
        raise UsageError(f"{name}: {exc}") from exc


def _cmd_run(args: argparse.Namespace) -> int:
    from ingest.service import Service

    settings = load_settings(_config_path(args), role=args.role)
    if args.once and settings.role != "all":
        raise ConfigError(
            f"--once runs the whole pipeline in one process; it cannot run as role {settings.role}"
        )
    _setup_logging(settings.log.level, settings.log.format)
    signals = _Signals()
    signals.install()
    return asyncio.run(_run_service(Service(settings), once=args.once, signals=signals))


class _Signals:
    """SIGTERM and SIGINT for ``run``: the first asks the service to stop (it drains); a second, or
    any once the event loop is gone (the last of the teardown), exits at once with 130. Handled at
    the process level, not by the event loop, so a signal is seen during blocking teardown too."""

    def __init__(self) -> None:
        self.count = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)

    def attach(self, loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
        self._loop, self._stop = loop, stop

    def _on_signal(self, signum: int, frame: object) -> None:
        self.count += 1
        loop = self._loop
        if self.count > 1 or loop is None or loop.is_closed():
            # No logging here: a signal handler may interrupt a thread holding the logging lock.
            os.write(2, b"ingest: signal received again: exiting at once\n")
            os._exit(EXIT_SIGNAL)
        loop.call_soon_threadsafe(self._stopping, signum)

    def _stopping(self, signum: int) -> None:
        log.info("%s received: stopping", signal.Signals(signum).name)
        if self._stop is not None:
            self._stop.set()


async def _run_service(service: Service, *, once: bool, signals: _Signals) -> int:
    stop = asyncio.Event()
    signals.attach(asyncio.get_running_loop(), stop)
    summary = await service.run(once=once, stop=stop)
    log.info("done: %s", summary.describe())
    if summary.unacknowledged:
        log.error("Kafka did not acknowledge %d articles; they will be retried", summary.unacknowledged)
        return EXIT_UNACKED
    return EXIT_OK


def _cmd_backfill(args: argparse.Namespace) -> int:
    from ingest.roles.backfill import Backfill
    from ingest.roles.progress import Display
    from ingest.service import Service
    from ingest.source.archives import Filters, check_source, parse_moment

    settings = _settings(args)
    for source in args.sources:
        if is_url(source):
            _url_argument(source, "SOURCE")
        else:
            check_source(source)
    filters = Filters(
        since=parse_moment(args.since, end=False) if args.since else None,
        until=parse_moment(args.until, end=True) if args.until else None,
        hosts=tuple(args.host or ()),
    )
    _url_argument(args.base_url, "--base-url")
    changes: dict[str, object] = {}
    if args.topic:
        changes["kafka"] = settings.kafka.model_copy(update={"topic": args.topic})
    if args.metrics_port is not None:
        if not 0 <= args.metrics_port <= 65535:
            raise UsageError("--metrics-port must be 0 to 65535")
        changes["metrics"] = settings.metrics.model_copy(update={"port": args.metrics_port})
    settings = settings.model_copy(update=changes)
    interactive = sys.stderr.isatty() and not os.environ.get("CI")
    _setup_logging(settings.log.level, settings.log.format, bars=interactive)
    role = Backfill(
        settings,
        list(args.sources),
        filters=filters,
        base_url=args.base_url,
        republish=args.republish,
        restart=args.restart,
        display=Display(interactive=interactive),
    )
    signals = _Signals()
    signals.install()
    code = asyncio.run(_run_service(Service(settings, role=role), once=True, signals=signals))
    if role.failed and code == EXIT_OK:
        print(
            f"ingest: {role.failed} archives could not be read to their end; run again to resume",
            file=sys.stderr,
        )
        return EXIT_FATAL
    return code


def _cmd_extract(args: argparse.Namespace) -> int:
    from ingest.errors import NoContent
    from ingest.stages.article import article_from_html

    _settings(args)  # a --config given is validated, as by every command
    _setup_logging("WARNING", "text")
    _url_argument(args.url, "--url")
    try:
        body = Path(args.file).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror or exc}") from exc
    try:
        article = article_from_html(body, args.url)
    except NoContent as exc:
        why = f": {exc.detail.removesuffix(f' (url={args.url})')}" if exc.detail else ""
        raise NoContent(f"no article text in {args.file}{why}") from exc
    sys.stdout.write(article.model_dump_json(indent=2) + "\n")
    return EXIT_OK


def _cmd_check_config(args: argparse.Namespace) -> int:
    from ingest.source.feedlist import load_feeds

    settings = _settings(args)
    feeds = load_feeds(settings)
    effective = settings.masked()
    effective["feeds"] = [f.model_dump(mode="json") for f in feeds]
    json.dump(effective, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")
    print(f"configuration valid: {len(feeds)} feeds", file=sys.stderr)
    return EXIT_OK


def _cmd_discover(args: argparse.Namespace) -> int:
    from ingest.net import AddressPolicy, HttpClient
    from ingest.source.discover import feed_links
    from ingest.source.sniff import sniff

    settings = _settings(args)
    _setup_logging("WARNING", "text")
    _url_argument(args.url, "URL")

    async def find() -> list[dict[str, str | None]]:
        http = settings.http
        async with HttpClient(http, AddressPolicy(http.private_allowance)) as client:
            response = await client.get(args.url, max_bytes=http.max_feed_bytes, trusted=args.url)
        kind = sniff(response.body, response.content_type)
        if kind != "html":
            return [{"url": response.url, "kind": kind, "title": None}]
        return [{"url": u, "kind": k, "title": t} for u, k, t in feed_links(response.body, response.url)]

    found = asyncio.run(find())
    for feed in found:
        sys.stdout.write(json.dumps(feed, ensure_ascii=False) + "\n")
    if not found:
        print(f"no feed found at {args.url}", file=sys.stderr)
        return EXIT_FATAL
    return EXIT_OK


def _cmd_healthcheck(args: argparse.Namespace) -> int:
    settings = _settings(args)
    host = settings.metrics.host if settings.metrics.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    url = f"http://{host}:{settings.metrics.port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as response:
            healthy = response.status == 200
    except (urllib.error.URLError, OSError) as exc:
        print(f"ingest: unhealthy: {url}: {exc}", file=sys.stderr)
        return EXIT_FATAL
    print(
        "ingest: healthy" if healthy else f"ingest: unhealthy: {url} answered {response.status}",
        file=sys.stderr,
    )
    return EXIT_OK if healthy else EXIT_FATAL


def _cmd_tail(args: argparse.Namespace) -> int:
    from ingest.kafka import tail

    settings = _settings(args)
    _setup_logging("WARNING", "text")
    if args.lines < 0:
        raise UsageError("--lines must be 0 or more")
    topic = args.topic or settings.kafka.topic
    last = None if args.from_beginning else args.lines
    show = tail.as_json_line if args.json else tail.readable
    count = 0
    bootstrap = tail.bootstrap_for(settings.kafka)
    waiting = partial(print, file=sys.stderr, flush=True)
    for record in tail.read(settings.kafka, bootstrap, topic, last=last, follow=args.follow, notice=waiting):
        sys.stdout.write(show(record) + "\n")
        sys.stdout.flush()
        count += 1
    if not args.json:
        print(f"{count} messages from {topic}", file=sys.stderr)
    return EXIT_OK


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line, like every other error of the command."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ingest", description="News feeds to structured articles on Kafka.")
    parser.add_argument("--version", action="version", version=f"ingest {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_config(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument("--config", "-c", help=f"YAML config file (default: ${CONFIG_ENV})")
        return sub

    run = with_config(commands.add_parser("run", help="run the service"))
    run.add_argument("--once", action="store_true", help="poll every feed once, publish, exit")
    run.add_argument(
        "--role",
        choices=("all", "poller", "worker"),
        help="all: one process does everything (default); poller / worker: one member of a fleet "
        "sharing Kafka and a Redis state (docs/SCALING.md). Overrides the 'role' setting.",
    )
    run.set_defaults(handler=_cmd_run)

    extract = with_config(
        commands.add_parser("extract", help="extract one saved HTML page and print the article")
    )
    extract.add_argument("file", help="saved HTML page")
    extract.add_argument("--url", required=True, help="the page's URL")
    extract.set_defaults(handler=_cmd_extract)

    check = with_config(commands.add_parser("check-config", help="validate and print the settings"))
    check.set_defaults(handler=_cmd_check_config)

    discover = with_config(commands.add_parser("discover", help="print the feeds a URL offers"))
    discover.add_argument("url", help="a web page or a feed")
    discover.set_defaults(handler=_cmd_discover)

    health = with_config(commands.add_parser("healthcheck", help="exit 0 if the service is healthy"))
    health.add_argument("--timeout", type=float, default=5.0)
    health.set_defaults(handler=_cmd_healthcheck)

    tail = with_config(commands.add_parser("tail", help="print the articles on the topic"))
    tail.add_argument("--topic", "-t", help="topic to read (default: kafka.topic)")
    start = tail.add_mutually_exclusive_group()
    start.add_argument("--from-beginning", action="store_true", help="every message on the topic")
    start.add_argument("--lines", "-n", type=int, default=10, help="the last N messages (default 10)")
    tail.add_argument("--follow", "-f", action="store_true", help="keep printing new messages")
    tail.add_argument("--json", action="store_true", help="one JSON message per line")
    tail.set_defaults(handler=_cmd_tail)

    backfill = with_config(
        commands.add_parser(
            "backfill",
            help="publish the HTML pages of web archives (WARC/ARC files, CC-NEWS) as articles",
            description="Every HTML response (status 200) of the archives goes through the same "
            "extract, normalise, dedup and publish chain as a live fetch. Progress is saved after "
            "the acks: run the same command again to resume; a finished archive is not read again.",
        )
    )
    backfill.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="a .warc, .warc.gz, .arc or .arc.gz file, a directory of them, a warc.paths(.gz) list, "
        "or an http(s) URL of any of these",
    )
    backfill.add_argument("--since", help="only records archived at or after this ISO 8601 date or time")
    backfill.add_argument(
        "--until", help="only records archived at or before this date (the whole day) or time"
    )
    backfill.add_argument(
        "--host",
        action="append",
        metavar="PATTERN",
        help="only pages of hosts matching this glob (repeatable)",
    )
    backfill.add_argument("--topic", "-t", help="topic to publish to (default: kafka.topic)")
    backfill.add_argument(
        "--base-url",
        default=COMMON_CRAWL,
        help=f"what the relative paths of a path list are joined to (default: {COMMON_CRAWL})",
    )
    backfill.add_argument(
        "--republish",
        action="store_true",
        help="publish pages whose articles were published before (re-extraction, e.g. into a new --topic)",
    )
    backfill.add_argument(
        "--restart", action="store_true", help="read every archive from its start, whatever was saved"
    )
    backfill.add_argument(
        "--metrics-port",
        type=int,
        help="port of /metrics while it runs (default: metrics.port; 0: any free one)",
    )
    backfill.set_defaults(handler=_cmd_backfill)
    return parser


def entry() -> NoReturn:
    """The ``ingest`` command: ``main``, then out of the process at once, with stdout, stderr and
    the logs flushed. Every command has closed what it opened by then; what is skipped is the
    interpreter's teardown of its modules (about 0.3 s with the extraction libraries loaded), during
    which signal handlers are back to their defaults: a second SIGTERM there would end the process
    as killed (143) instead of the documented 130."""
    code = main()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except ConfigError as exc:
        print(f"ingest: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except UsageError as exc:
        print(f"ingest: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except FatalError as exc:
        print(f"ingest: fatal: {exc}", file=sys.stderr)
        return EXIT_FATAL
    except IngestError as exc:
        print(f"ingest: error: {exc}", file=sys.stderr)
        return EXIT_FATAL
    except KeyboardInterrupt:
        return EXIT_SIGNAL
    return code
