"""The command line: serve, worker, doctor, status, events, replay, send-test, …

Every command reads the same settings (TRACKSIDE_* and TRACKSIDE_CONFIG). A bad setting stops
the command with the key and the reason, exit code 2; so does, for `serve` and `worker`, a
TRACKSIDE_* variable no setting reads (the other commands warn). Stored text (ids, names,
notes, vendors' messages) is printed through ``terminal.safe``: never a raw control character.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from trackside import __version__, logs, pollers, timeline
from trackside.config import ConfigError, unknown_variable_problems
from trackside.destinations.meta.settings import MetaSettings
from trackside.errors import TracksideError, exit_code
from trackside.isotime import iso_utc
from trackside.outcomes import Outcome
from trackside.runtime import Runtime
from trackside.shops import Shop, Shops, load_shops
from trackside.status_tables import outbox_tables, webhook_table
from trackside.store import EventView
from trackside.terminal import safe

# rich_markup_mode=None (here and on every sub-app): click's plain help. Typer's rich help shows
# every flag as `--flag <bool>`, reads `[shops.NAME]` in a docstring as markup and drops it,
# and keeps a docstring's line breaks in the command list; the plain one rewraps paragraphs to
# the terminal (\b keeps a block as written) and shows flags as flags.
app = typer.Typer(
    help="trackside: server-side conversion tracking gateway (Meta CAPI, GA4).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
events_app = typer.Typer(help="Look at stored events.", no_args_is_help=True,
                         rich_markup_mode=None)
app.add_typer(events_app, name="events")


def _register_sub_apps() -> None:
    from trackside.demo import demo
    from trackside.doctor import doctor
    from trackside.reports.cli import reconcile
    from trackside.reports.match_quality_cli import match_quality_command
    from trackside.sources.imports import import_app
    from trackside.sources.prestashop.cli import app as prestashop_app
    from trackside.store.backup_cli import backup
    from trackside.store.move_cli import migrate_store

    app.add_typer(prestashop_app, name="prestashop")
    app.add_typer(import_app(), name="import")
    app.command()(demo)
    app.command()(doctor)
    app.command()(backup)
    app.command("migrate-store")(migrate_store)
    app.command()(reconcile)
    app.command("match-quality")(match_quality_command)


_register_sub_apps()

# Dynamic text holds [brackets] (destination names, vendors' messages): never markup.
out = Console(markup=False, highlight=False, soft_wrap=True)
err = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)


#: The --shop option of every command that reads or writes events.
ShopOption = Annotated[
    str | None,
    typer.Option("--shop", metavar="NAME",
                 help="The shop ([shops.NAME] in TRACKSIDE_CONFIG). Default: the only shop; "
                      "required when several are configured."),
]


def _shops(strict: bool = False) -> Shops:
    """The configured shops, or exit 2. ``strict`` (serve, worker): unknown TRACKSIDE_*
    variables are errors too; otherwise they are warned about."""
    try:
        shops = load_shops()
    except ConfigError as exc:
        err.print(f"configuration error: {safe(exc)}", style="red")
        raise typer.Exit(2) from None
    problems = unknown_variable_problems()
    for problem in problems:
        if strict:
            err.print(f"configuration error: {safe(problem)}", style="red")
        else:
            err.print(f"warning: {safe(problem)}", style="yellow")
    if strict and problems:
        raise typer.Exit(2)
    return shops


def _shop(name: str | None) -> Shop:
    """The shop a command works on (--shop NAME, or the only one), or exit 2."""
    shops = _shops()
    try:
        return shops.pick(name)
    except ConfigError as exc:
        err.print(f"configuration error: {safe(exc)}", style="red")
        raise typer.Exit(2) from None


def _runtime(chosen: Shop | Shops, *, migrate: bool = True) -> Runtime:
    """The runtime of one shop (commands on events) or of every shop (serve, worker)."""
    try:
        return Runtime.from_shops(chosen if isinstance(chosen, Shops) else Shops([chosen]),
                                  migrate=migrate)
    except ConfigError as exc:
        err.print(f"configuration error: {safe(exc)}", style="red")
        raise typer.Exit(2) from None
    except Exception as exc:  # the store cannot be opened: say which and why
        err.print(f"cannot open the store (TRACKSIDE_DATABASE_URL): {type(exc).__name__}: "
                  f"{safe(exc)}", style="red")
        raise typer.Exit(2) from None


def _log_store_in_use(runtime: Runtime) -> None:
    """serve's and worker's first line: which store this process uses (password masked), so
    an operator with several databases sees at once whether it is the intended one."""
    import logging

    from trackside.store.opening import describe_store

    logging.getLogger("trackside").info(
        "store: %s", describe_store(runtime.settings.database_url), extra={"action": "startup"})


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _parse_when(value: str | None, option: str) -> float | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date such as 2026-11-20 or 2026-11-20T10:00",
                                 param_hint=option) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


# -- serve and worker -------------------------------------------------------------------------

NoMigrate = Annotated[
    bool,
    typer.Option("--no-migrate", help="Do not migrate the store's schema at start; refuse to "
                                      "start (exit 2) when it is behind: run `trackside "
                                      "migrate` first."),
]


@app.command()
def migrate() -> None:
    """Apply the store's missing schema migrations (TRACKSIDE_DATABASE_URL) and print them;
    exit 2 when the store cannot be opened or a migration fails."""
    from trackside.store.opening import migrate as migrate_store

    url = next(iter(_shops())).settings.database_url
    try:
        applied = migrate_store(url)
    except Exception as exc:  # the store's error or the migration's: say which and why
        err.print(f"cannot migrate the store (TRACKSIDE_DATABASE_URL): {type(exc).__name__}: "
                  f"{safe(exc)}", style="red")
        raise typer.Exit(2) from None
    for name in applied:
        out.print(f"applied {name}")
    out.print(f"{len(applied)} migrations applied" if applied else "the schema is up to date")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_worker: Annotated[
        bool,
        typer.Option("--no-worker", help="Only accept events; let `trackside worker` deliver."),
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    no_migrate: NoMigrate = False,
    workers: Annotated[int, typer.Option(
        help="Server processes sharing the port, each with its own store connections and, "
             "unless --no-worker, its own delivery worker. Above 1 needs PostgreSQL.",
        min=1)] = 1,
) -> None:
    """Run the HTTP service and, unless --no-worker, the delivery worker."""
    import uvicorn

    from trackside.web import serving
    from trackside.web.app import create_app
    from trackside.web.protocol import HeaderLimitedProtocol

    shops = _shops(strict=True)
    try:
        serving.check_workers(workers, next(iter(shops)).settings.database_url)
    except serving.WorkersUnsupported as exc:
        err.print(f"configuration error: {safe(exc)}", style="red")
        raise typer.Exit(2) from None
    runtime = _runtime(shops, migrate=not no_migrate)
    logs.configure(runtime.redactor, log_level)
    _log_store_in_use(runtime)
    try:
        application = create_app(runtime, run_worker=not no_worker)
    except ConfigError as exc:
        runtime.close()
        err.print(f"configuration error: {safe(exc)}", style="red")
        raise typer.Exit(2) from None
    if workers > 1:
        # The parent migrated and checked the configuration; each process builds its own
        # runtime (trackside/web/serving.py).
        runtime.close()
        serving.run_processes(workers=workers, host=host, port=port,
                              options=serving.ServeOptions(not no_worker, log_level),
                              http=HeaderLimitedProtocol)
        return
    serving.tune_gc()
    # proxy_headers=False: uvicorn would otherwise take the client address from
    # X-Forwarded-For of any local peer, bypassing TRACKSIDE_TRUSTED_PROXIES.
    # HeaderLimitedProtocol: httptools alone buffers request headers without any bound.
    config = uvicorn.Config(application, host=host, port=port, log_config=None,
                            log_level=log_level, access_log=False, timeout_graceful_shutdown=10,
                            proxy_headers=False, http=HeaderLimitedProtocol)
    try:
        _GracefulServer(config).run()
    finally:
        runtime.close()


class _GracefulServer:
    """uvicorn's Server, but a SIGTERM that ended in a clean shutdown exits 0.

    uvicorn re-raises the captured signal after its graceful shutdown, so the process would
    end "killed by SIGTERM" and a supervisor would log a crash for a normal stop.
    """

    def __new__(cls, config: Any) -> Any:
        import contextlib

        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Any:
                previous = {sig: signal.signal(sig, self.handle_exit)
                            for sig in (signal.SIGINT, signal.SIGTERM)}
                try:
                    yield
                finally:
                    for sig, handler in previous.items():
                        signal.signal(sig, handler)

        return Server(config)


@app.command()
def worker(
    drain: Annotated[
        bool, typer.Option("--drain", help="Exit once nothing is due instead of running forever.")
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    no_migrate: NoMigrate = False,
) -> None:
    """Deliver queued events and run the periodic jobs (no HTTP service): the held-purchase
    sweep, the retention purge and each configured source's poller (PrestaShop), as `serve`
    does beside its worker. Each job runs once per interval across every process sharing
    the store, not once per process. --drain only delivers. Stops cleanly on SIGTERM or
    Ctrl-C."""
    runtime = _runtime(_shops(strict=True), migrate=not no_migrate)
    logs.configure(runtime.redactor, log_level)
    _log_store_in_use(runtime)

    async def main() -> None:
        async with runtime.worker() as delivery:
            if drain:
                handled = await delivery.drain(timeout_s=3600)
                out.print(f"handled {handled} outbox rows")
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            jobs = pollers.start(runtime, stop)
            try:
                await delivery.run(stop)
            finally:
                stop.set()
                if jobs:
                    # A pass in progress (a shop sync) finishes; one that hangs is left behind.
                    await asyncio.wait(jobs, timeout=30)

    try:
        asyncio.run(main())
    finally:
        runtime.close()


@app.command("shops")
def shops_command(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the configured shops ([shops.NAME] tables; environment-only configuration is the
    one shop `default`) with their destinations and health."""
    listed: list[dict[str, Any]] = []
    for shop in _shops():
        runtime = _runtime(shop)
        try:
            counts = runtime.store.counts(shop=shop.name)
            states = runtime.store.destination_states(shop=shop.name)
        finally:
            runtime.close()
        now = time.time()
        paused = sorted(state.destination for state in states
                        if state.paused_until is None or state.paused_until > now)
        dead = sum(entry.counts.get(Outcome.DEAD, 0) for entry in counts)
        pending = sum(entry.counts.get(Outcome.PENDING, 0) for entry in counts)
        health = "paused: " + ", ".join(paused) if paused else "ok"
        listed.append({"shop": shop.name,
                       "destinations": [d.name for d in runtime.destinations],
                       "api_keys": len(shop.settings.api_keys),
                       "allowed_origins": shop.settings.allowed_origins,
                       "pending": pending, "dead": dead, "health": health})
    if as_json:
        out.print_json(data={"shops": listed})
        return
    table = Table(title="Shops")
    for column in ("shop", "destinations", "API keys", "origins", "pending", "dead", "health"):
        table.add_column(column, justify="right" if column in ("pending", "dead") else "left",
                         overflow="fold")
    for row in listed:
        # The key count, never a key: secrets are not listed anywhere.
        table.add_row(safe(row["shop"]), safe(", ".join(row["destinations"])),
                      str(row["api_keys"]), safe(", ".join(row["allowed_origins"]) or "-"),
                      str(row["pending"]), str(row["dead"]), safe(row["health"]))
    out.print(table)


# -- status, events, replay ---------------------------------------------------------------------


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    shop: ShopOption = None,
) -> None:
    """Counts per destination and outcome, oldest pending age, paused destinations (of one
    shop: --shop)."""
    runtime = _runtime(_shop(shop))
    now = time.time()
    counts = runtime.store.counts(shop=runtime.shop_name)
    states = runtime.store.destination_states(shop=runtime.shop_name)
    webhooks = runtime.store.webhook_counts(shop=runtime.shop_name)
    runtime.close()
    if as_json:
        out.print_json(data={
            "webhooks": [
                {"source": w.source, "outcome": w.outcome, "reason": w.reason or None,
                 "count": w.count, "last_received_age_s": round(now - w.last_received_at, 1)}
                for w in webhooks
            ],
            "destinations": [
                {"destination": c.destination, "counts": c.counts,
                 "oldest_pending_age_s": None if c.oldest_pending_accepted_at is None
                 else round(now - c.oldest_pending_accepted_at, 1)}
                for c in counts
            ],
            "paused": [
                {"destination": s.destination, "until": iso_utc(s.paused_until), "reason": s.reason,
                 "code": s.code}
                for s in states if s.paused_until is None or s.paused_until > now
            ],
        })
        return
    if counts:
        for table in outbox_tables(counts, now, out.width):
            out.print(table)
    else:
        out.print("No events yet.")
    if webhooks:
        out.print(webhook_table(webhooks, now, out.width))
    for state in states:
        if state.paused_until is None:
            out.print(f"{safe(state.destination)} is PAUSED until you act: {safe(state.reason)}",
                      style="red")
        elif state.paused_until > now:
            out.print(f"{safe(state.destination)} is paused until {_when(state.paused_until)}: "
                      f"{safe(state.reason)}", style="yellow")


@events_app.command("show")
def events_show(
    event_id: Annotated[
        str, typer.Argument(help="The event id (for a purchase: the order reference).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    shop: ShopOption = None,
) -> None:
    """The event's timeline: accepted from where, payload sent, responses, outcome (an event
    of one shop: --shop)."""
    runtime = _runtime(_shop(shop))
    views = runtime.store.event_view(event_id, shop=runtime.shop_name)
    runtime.close()
    if not views:
        err.print(f"no event with id {event_id!r}")
        raise typer.Exit(1)
    if as_json:
        out.print_json(data=[_view_dict(v) for v in views])
        return
    for view in views:
        out.print(f"{safe(view.event_name)} {safe(view.event_id)}", style="bold")
        out.print(f"  {_when(view.accepted_at)}  accepted from {safe(view.source)}; event_time "
                  f"{_when(view.event.event_time)}", highlight=False)
        for warning in view.event.warnings:
            out.print(f"  warning: {safe(warning)}", highlight=False)
        for flag in view.event.flags:
            out.print(f"  flag: {safe(flag)}", highlight=False)
        for entry in timeline.build(view):
            if entry.kind != timeline.ACCEPTED:  # said above, with the event's own time
                out.print(f"  {_when(entry.at)}  {safe(timeline.line(entry))}", highlight=False)
        for row in view.outbox:
            if row.status == Outcome.PENDING:
                out.print(f"  pending [{safe(row.destination)}]: next attempt "
                          f"{_when(row.next_attempt_at)} (attempts so far: {row.attempts})",
                          highlight=False)
            elif row.status == Outcome.HELD:
                out.print(f"  held [{safe(row.destination)}]: an unconfirmed browser purchase, "
                          "waiting for the store's copy of the order", highlight=False)
        for row in view.outbox:
            if row.sent is not None:
                out.print(f"  payload [{safe(row.destination)}]:", highlight=False)
                out.print_json(data=row.sent)


@events_app.command("drop")
def events_drop(
    event_id: Annotated[
        str, typer.Argument(help="The event id (for a purchase: the order reference).")
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="Why (recorded on the event, with who and when).")
    ],
    destination: Annotated[
        str | None, typer.Option(help="Only this destination's row (meta, ga4, …).")
    ] = None,
    shop: ShopOption = None,
) -> None:
    """End an event's pending deliveries as dead, with a reason (audited as a note); an event
    of one shop: --shop."""
    import getpass

    if not reason.strip():
        raise typer.BadParameter("say why the event is dropped", param_hint="--reason")
    # An operator may paste a vendor's answer, token included: mask configured secrets.
    runtime = _runtime(_shop(shop))
    why = runtime.redactor(reason.strip()) or ""
    try:
        actor = getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (containers)
        actor = "operator"
    try:
        result = runtime.store.drop_pending(event_id, destination, why,
                                            f"{actor} (trackside events drop)", time.time(),
                                            shop=runtime.shop_name)
    finally:
        runtime.close()
    for event_name, name in result.dropped:
        out.print(f"dropped {safe(event_name)} {safe(event_id)} [{safe(name)}]: dead, "
                  f"{safe(why)}", highlight=False)
    for event_name, name, status in result.refused:
        err.print(f"not dropped {safe(event_name)} {safe(event_id)} [{safe(name)}]: already "
                  f"{status}; only pending rows can be dropped", highlight=False)
    if not result.dropped and not result.refused:
        where = f" for destination {destination!r}" if destination else ""
        err.print(f"no event with id {event_id!r}{where}")
        raise typer.Exit(1)
    if not result.dropped:
        raise typer.Exit(1)


#: The stored rows' moments (unix seconds), shown as GET /v1/events/{id} shows them.
_ROW_TIMES = ("next_attempt_at", "lease_expires_at", "finished_at", "at")


def _iso_times(row: Any) -> dict[str, Any]:
    values = dataclasses.asdict(row)
    for name in _ROW_TIMES:
        if name in values:
            values[name] = iso_utc(values[name])
    return values


def _view_dict(view: EventView) -> dict[str, Any]:
    """As the API's lookup (web/views.py) writes times: ISO 8601 UTC, milliseconds, and the
    event's own time in seconds; the payload under ``sent`` stays as the destination got it."""
    event = view.event.model_dump(mode="json", exclude_defaults=True)
    event["event_time"] = iso_utc(view.event.event_time, "seconds")
    return {
        "event_name": view.event_name,
        "event_id": view.event_id,
        "source": view.source,
        "accepted_at": iso_utc(view.accepted_at),
        "event": event,
        "destinations": [_iso_times(row) for row in view.outbox],
        "attempts": [_iso_times(row) for row in view.attempts],
        "notes": [_iso_times(row) for row in view.notes],
    }


@app.command()
def replay(
    destination: Annotated[
        str | None, typer.Option(help="Only this destination (meta, ga4, …).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only events that happened at or after this date.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only events that happened at or before this date.")
    ] = None,
    event_id: Annotated[str | None, typer.Option("--event-id", help="Only this event id.")] = None,
    shop: ShopOption = None,
) -> None:
    """Put dead-lettered or expired events (of one shop: --shop) back in the queue."""
    runtime = _runtime(_shop(shop))
    now = time.time()
    windows = {d.name: now - d.max_event_age_s for d in runtime.destinations}
    result = runtime.store.replay(
        destination=destination, since=_parse_when(since, "--since"),
        until=_parse_when(until, "--until"), event_id=event_id, min_event_time=windows, now=now,
        shop=runtime.shop_name,
    )
    runtime.close()
    out.print(f"replayed {result.replayed} outbox rows")
    for refused_id, reason in result.refused:
        err.print(f"refused {safe(refused_id)}: {safe(reason)}; the destination would reject it",
                  highlight=False)
    if result.refused and not result.replayed:
        raise typer.Exit(1)


@app.command("send-test")
def send_test(
    email: Annotated[
        str, typer.Option(help="Customer email on the test event (hashed before it is sent).")
    ] = "test@example.com",
    force: Annotated[
        bool, typer.Option("--force", help="Send even without TRACKSIDE_META_TEST_EVENT_CODE.")
    ] = False,
    shop: ShopOption = None,
) -> None:
    """Send one test PageView now to a shop's destinations (--shop) and print what they
    answered."""
    chosen = _shop(shop)
    settings = chosen.settings
    meta = settings.destination("meta", MetaSettings)
    if meta.meta_configured and not meta.meta_test_event_code and not force:
        err.print("TRACKSIDE_META_TEST_EVENT_CODE is not set: the test event would count as a real "
                  "one. Set it (Events Manager > Test Events) or pass --force.")
        raise typer.Exit(2)
    runtime = _runtime(chosen)
    event_id = f"trackside-test-{int(time.time())}"
    results = runtime.pipeline.accept(
        [{
            "event_name": "PageView",
            "event_id": event_id,
            "action_source": "website",
            "event_source_url": "https://trackside.test/send-test",
            "user": {"email": email, "user_agent": f"trackside/{__version__} send-test",
                     "external_id": "trackside-send-test"},
            # The operator's own test: consent is not the question it answers.
            "consent": {"ad_storage": "granted", "ad_user_data": "granted",
                        "analytics_storage": "granted", "ad_personalization": "granted"},
        }],
        source="send-test",
    )
    if results[0].status == "rejected":
        err.print(f"could not build the test event: {safe(results[0].errors)}")
        raise typer.Exit(1)

    async def deliver() -> None:
        async with runtime.worker() as delivery:
            await delivery.drain(timeout_s=60)

    asyncio.run(deliver())
    failed = False
    for view in runtime.store.event_view(event_id, shop=runtime.shop_name):
        for row in view.outbox:
            line = timeline.outcome_line(row) if row.status != "pending" else (
                f"pending [{row.destination}]: {row.message or 'not sent yet'}")
            out.print(safe(line), highlight=False)
            failed |= row.status not in ("delivered",)
    runtime.close()
    if failed:
        raise typer.Exit(1)


@app.command()
def refund(
    reference: Annotated[str, typer.Argument(help="The order's checkout reference.")],
    value: Annotated[
        float | None, typer.Option(help="Refunded amount (default: the whole order).")
    ] = None,
    currency: Annotated[
        str | None, typer.Option(help="ISO 4217 code (default: the order's).")
    ] = None,
    shop: ShopOption = None,
) -> None:
    """Emit a GA4 refund for an order of one shop (--shop); Meta has no refund event: recorded
    as not applicable."""
    from trackside.errors import RefundError
    from trackside.refunds import build_refund

    runtime = _runtime(_shop(shop))
    try:
        event = build_refund(runtime.store, runtime.settings, reference, value, currency,
                             shop=runtime.shop_name)
    except RefundError as exc:
        err.print(f"cannot refund {safe(reference)}: {safe(exc)}", highlight=False)
        runtime.close()
        raise typer.Exit(1) from None
    [result] = runtime.pipeline.accept([event], source="cli")
    runtime.close()
    if result.status == "rejected":
        err.print(f"refund refused: {safe([e.model_dump() for e in result.errors])}",
                  highlight=False)
        raise typer.Exit(1)
    out.print(f"refund {safe(result.event_id)}: {result.status}")


@app.command()
def purge(
    days: Annotated[
        int | None, typer.Option(help="Retention in days (default: TRACKSIDE_RETENTION_DAYS).")
    ] = None,
    include_dead: Annotated[
        bool,
        typer.Option("--include-dead", help="Also purge dead-lettered events (they can then no "
                                            "longer be replayed with their IP and cookies)."),
    ] = False,
    shop: ShopOption = None,
) -> None:
    """Clear IPs, user agents and browser identifiers of final events (of one shop: --shop)
    past the retention period."""
    runtime = _runtime(_shop(shop))
    retention = days if days is not None else runtime.settings.retention_days
    now = time.time()
    from trackside.retention import purge_personal_data

    count = purge_personal_data(runtime.store, now - retention * 86400, now,
                                include_dead=include_dead, shop=runtime.shop_name)
    runtime.close()
    out.print(f"purged browser context of {count} events older than {retention} days")


def main() -> None:
    """The console script: a TracksideError no command caught ends with its message and its
    exit code (trackside/errors.py), never a traceback."""
    try:
        app()
    except TracksideError as exc:
        err.print(f"{type(exc).__name__}: {safe(exc)}", style="red")
        raise SystemExit(exit_code(exc)) from None


if __name__ == "__main__":  # pragma: no cover
    main()
