"""The `vhub` command: every entry point of the product."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vhub import context, logs
from vhub.errors import ConfigurationError, VhubError
from vhub.settings import Settings, display_url, keep_private

if TYPE_CHECKING:
    from vhub.runtime import Stack


def _settings() -> Settings:
    return Settings()


ANCHOR_HELP = "the synthetic night ends at this moment (ISO 8601 with its zone); default 2026-11-26T06:00:00+00:00"


def _moment(text: str) -> datetime:
    """An ISO 8601 date and time with its zone, for an option."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date and time such as 2026-12-01T06:00:00+00:00") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone: add one, such as +00:00")
    return moment


def _running_context() -> context.AppContext:
    """The context of the running stack: the one on the data folder set, or found from any folder (see
    `vhub.status.find_stack`), or of VHUB_REDIS_URL. Refuses, saying what to do, when none is running."""
    from vhub.status import find_stack

    settings, _ = find_stack(_settings())
    return context.configure(settings)


def cmd_up(args: argparse.Namespace) -> int:
    from vhub.cra_audit import cra_rubric
    from vhub.mou import mou_config
    from vhub.referral_audit import audit_config
    from vhub.runtime import Simulated, Stack, stop_on_signals
    from vhub.supervisor import Supervisor
    from vhub.triage.term_dates import warn_about_term_dates

    settings = _settings()
    simulators: Simulated | None = None
    if args.simulate or settings.mode == "simulated":
        from vhub.simulated import Simulators

        simulators = Simulators()
    settings.ensure_dirs()
    logs.configure(settings, process="up")
    warn_about_term_dates()  # logged, never stops start-up: past its term dates a deadline is flagged instead
    mou_config()  # config/mou.toml: a mistake stops start-up, naming what to fix
    cra_rubric()  # config/cra_audit.toml: likewise
    audit_config()  # config/referral_audit.toml: likewise
    stack = Stack(settings, workers=args.workers, simulators=simulators, scheduler=not args.no_scheduler, review=True)
    stop_on_signals()
    context.configure(settings).db.migrate()
    from vhub.status import announce, withdraw

    with stack:
        pointer = announce(settings)  # lets `vhub status` find this stack from any folder
        try:  # from here on, a Ctrl-C (however soon) stops the stack and withdraws the pointer
            _print_stack(stack, settings, simulated=simulators is not None, scheduler=not args.no_scheduler)
            # A worker, the scheduler or the review app that stops is restarted; Redis stopping stops all.
            reason = Supervisor(stack).run()
            print(f"Stopping: {reason} (see {settings.log_dir}).", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\nStopping...", flush=True)
        finally:
            withdraw(pointer)
    return 0


def _print_stack(stack: Stack, settings: Settings, *, simulated: bool, scheduler: bool) -> None:
    """What `vhub up` started and where, ending with the line that says it is running."""
    print(f"Mode:           {stack.settings.mode}" + (" (simulated systems only)" if simulated else ""))
    print(f"Redis:          {display_url(stack.redis_url)}")
    print(f"Records system: {stack.records_url}")
    print(f"ISR portal:     {stack.isr_url}")
    print(f"Review app:     {stack.review_url}  (accounts: `vhub users add NAME --role reviewer|admin|auditor`)")
    print(f"Workers:        {stack.worker_count}" + (" (and the scheduler)" if scheduler else ""))
    print(f"Data folder:    {settings.data_path}")
    print(f"Alerts (Teams): {_alert_channels(stack.resolved(), simulated=simulated)}")
    print("Running. `vhub status` shows the queues; Ctrl-C stops everything.", flush=True)


def _alert_channels(settings: Settings, *, simulated: bool) -> str:
    """Where alerts go, for the start-up lines: an unset channel is said plainly (its alerts are only logged)."""
    from vhub.alerts import unset_channels

    if simulated:
        sink = settings.alert_url("alert_webhook_url").rsplit("/webhook/", 1)[0]
        return f"the simulated Teams webhook ({sink}/_admin/received)"
    unset = unset_channels(settings)
    if not unset:
        return "admins' and duty sergeant's channels set"
    return f"NOT SET: {', '.join(unset)} (those alerts are only logged and audited; see runbooks/alerts.md)"


def cmd_worker(args: argparse.Namespace) -> int:
    from vhub.portals import require_configured
    from vhub.triage.term_dates import warn_about_term_dates
    from vhub.worker import run_worker

    settings = _settings()
    require_configured(settings)  # a worker started by hand is held to the same rule as `vhub up`
    logs.configure(settings, process="worker")
    warn_about_term_dates()
    context.configure(settings)
    run_worker(settings, burst=args.burst, name=args.name)
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    from vhub.portals import require_configured
    from vhub.scheduler import run_scheduler
    from vhub.triage.term_dates import warn_about_term_dates

    settings = _settings()
    require_configured(settings)
    logs.configure(settings, process="scheduler")
    warn_about_term_dates()
    context.configure(settings)
    run_scheduler(settings)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from vhub.status import collect, find_stack, render

    settings, found = find_stack(_settings())  # reads only: never creates a database or a folder
    report = collect(settings)
    if args.json:
        print(json.dumps(report, indent=2, default=_json_value))
    else:
        print("\n".join([found, render(report)]) if found else render(report))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from bots.records_system import RecordsBot
    from vhub.browser import close_all
    from vhub.evidence import store_for
    from vhub.portals import external_systems
    from vhub.verify import as_json, render, verify

    ctx = _running_context()
    listed = None
    if not args.no_source:
        try:
            listed = RecordsBot(ctx.settings).list_changed_since(None)
        finally:
            close_all()
    partners = decisions = None
    if ctx.settings.mode == "simulated":  # the simulated portals list what they hold; live ones offer no such list
        from vhub.simulated.auto_approve import partner_decisions, partner_records

        urls = {name: ctx.settings.external(name).url for name in external_systems()}
        partners, decisions = partner_records(urls), partner_decisions(urls)
    with ctx.db.session(read_only=True) as session:
        checks = verify(
            session,
            ctx.jobs,
            listed=listed,
            partners=partners,
            second_approver_for_red=ctx.settings.review_second_approver_for_red,
            evidence=store_for(ctx.settings, ctx.db),
            decisions=decisions,
        )
    print(render(checks), end="")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(as_json(checks), indent=2), encoding="utf-8")
    return 0 if all(check.passed for check in checks) else 1


def _json_value(value: Any) -> str:
    """A time in JSON output: ISO 8601 with its offset, to the second."""
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else str(value)


def _actor() -> str:
    """Who ran a command that changes something, for the audit trail: the account signed in to this machine."""
    import getpass

    return f"cli:{getpass.getuser()}"


def cmd_run(args: argparse.Namespace) -> int:
    from tasks.ingest import start_scan
    from tasks.isr import start_isr_scan

    ctx = _running_context()
    logs.configure(ctx.settings, process="cli", console=False)
    ctx.db.migrate()
    if args.what == "isr":
        start_isr_scan()
        print("Queued a read of new information sharing requests. `vhub status` follows it.")
        return 0
    if args.what in ("encompass", "morning", "watch", "decisions"):
        from vhub.scheduler import enqueue_now

        kind = {
            "encompass": "encompass_check",
            "morning": "morning_report",
            "watch": "watch",
            "decisions": "decision_check",
        }[args.what]
        job = enqueue_now(ctx.jobs, kind)
        print(f"Queued {kind.replace('_', ' ')} (job {job.id}). `vhub runs list` shows it when it has run.")
        return 0
    run_id = start_scan(kind="manual")
    print(f"Queued a scan of the records system (run {run_id}). `vhub status` follows it.")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from vhub.simulated.demo import DemoOptions, run_demo

    if args.night:
        from vhub.simulated.night import NightOptions, run_night

        night = NightOptions(
            incidents=args.incidents,
            seed=args.seed,
            workers=args.workers,
            exit_after=args.exit,
            summary_json=args.summary_json,
        )
        return run_night(_settings(), night)

    if args.days and not args.auto_approve:
        raise SystemExit(
            "vhub demo --days needs --auto-approve: without it no referral is sent for a front door to decide."
        )
    if args.days < 0:
        raise SystemExit("vhub demo --days takes a number of days, 1 or more.")
    options = DemoOptions(
        incidents=args.incidents,
        seed=args.seed,
        exit_after=args.exit,
        summary_json=args.summary_json,
        workers=args.workers,
        auto_approve=args.auto_approve,
        days=args.days,
        timeout_s=args.timeout,
    )
    return run_demo(_settings(), options)


def cmd_fixtures_serve(args: argparse.Namespace) -> int:
    from vhub.simulated.systems import serve

    serve(
        host=args.host,
        port_base=args.port_base,
        ports_file=args.ports_file,
        seed=args.seed,
        incidents=args.incidents,
        extra=args.extra,
        anchor=args.anchor,
    )
    return 0


def cmd_fixtures_dump(args: argparse.Namespace) -> int:
    from vhub.simulated.systems import ground_truth_json

    print(ground_truth_json(args.seed, args.incidents, args.anchor))
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = _settings()
    if args.sql:
        from vhub.store.database import sql_script

        print(sql_script(settings.sqlalchemy_url))
        return 0
    context.configure(settings).db.migrate()
    print(f"Database is at the newest schema: {settings.sqlalchemy_url.split('://')[0]}")
    return 0


def cmd_failed(args: argparse.Namespace) -> int:
    from vhub import failed
    from vhub.models import uk_timestamp
    from vhub.store.tables import utcnow

    ctx = _running_context()
    jobs = ctx.jobs
    if args.action != "replay" and (args.queue or args.since):
        raise VhubError("--queue and --since go with `vhub failed replay --all`.", code="bad_arguments")
    if args.action == "list":
        listed = failed.list_failed(jobs)
        if not listed:
            print("No failed jobs.")
        for job in listed:
            when = uk_timestamp(job.failed_at) if job.failed_at else "?"
            print(f"{job.id}  {job.queue:<8} {when}  {job.function}({job.args})\n    {job.reason}")
        return 0
    if args.action in ("show", "discard") and len(args.job_ids) != 1:
        print(f"Name one job id: `vhub failed {args.action} ID` (`vhub failed list` shows them).", file=sys.stderr)
        return 2
    if args.action == "show":
        from vhub.evidence import FolderEvidence, store_for

        # A read-only command: the store is opened only where the evidence is kept in it.
        database = ctx.settings.evidence_store == "database"
        kept = store_for(ctx.settings, ctx.db) if database else FolderEvidence(ctx.settings.evidence_dir)
        print(_shown(failed.show(jobs, args.job_ids[0], kept)))
        return 0
    if args.action == "discard":
        if not args.reason:
            print("Say why with --reason TEXT: it is kept in the audit trail. Nothing was discarded.", file=sys.stderr)
            return 2
        ctx.db.migrate()  # the audit trail must be there before anything is discarded
        outcome = failed.discard(jobs, ctx.db, args.job_ids[0], reason=args.reason, actor=_actor())
        print(f"Discarded job {args.job_ids[0]} (audited). {outcome}")
        return 0
    if args.all == bool(args.job_ids):
        print("Name the job ids to replay, or give --all (with --queue and --since to narrow it).", file=sys.stderr)
        return 2
    if args.job_ids and (args.queue or args.since):
        raise VhubError("--queue and --since go with --all, not with job ids.", code="bad_arguments")
    if args.all:
        since = failed.parse_since(args.since, utcnow()) if args.since else None
        targets = failed.matching(jobs, queue=args.queue, since=since)
    else:
        failed.check_failed(jobs, args.job_ids)
        targets = [job for job in failed.list_failed(jobs) if job.id in set(args.job_ids)]
    ctx.db.migrate()  # the audit trail must be there before anything is replayed
    with ctx.db.session() as session:  # each replay is audited in the transaction that commits after it
        replayed = set(failed.replay(jobs, [job.id for job in targets])) if targets else set()
        for job_id in sorted(replayed):
            failed.record_replayed(session, job_id, actor=_actor())
    for job in targets:
        if job.id in replayed:
            print(f"Replayed {job.id}  {job.queue:<8} {job.function}")
    print(f"Replayed {len(replayed)} job(s); a worker picks them up." if replayed else "Nothing to replay.")
    return 0


def _shown(job: Any) -> str:
    from vhub.models import uk_timestamp

    lines = [
        f"Job {job.id}: {job.function} on queue {job.queue}",
        f"What went wrong: {job.explanation}",
        f"Technical line:  {job.reason}",
        f"Arguments:       {job.args}",
        f"Attempts:        {job.attempts}",
        f"Queued:          {uk_timestamp(job.enqueued_at) if job.enqueued_at else 'not recorded'}",
        f"Failed:          {uk_timestamp(job.failed_at) if job.failed_at else 'not recorded'}",
    ]
    if not job.evidence:
        lines.append("Evidence:        none kept (the job failed before a bot opened a page)")
    for evidence in job.evidence:
        files = ", ".join(evidence.files) or "no files"
        where = f"{evidence.folder} in the database (the review app's Failed jobs page shows it)"
        if not evidence.in_database:
            where = str(evidence.folder)
        lines.append(f"Evidence {evidence.number}:      {where} ({files})")
    lines.append(
        f"Next: once the cause is fixed, `vhub failed replay {job.id}`; "
        f'or `vhub failed discard {job.id} --reason "..."`.'
    )
    return "\n".join(lines)


def cmd_report(args: argparse.Namespace) -> int:
    if args.what == "morning":
        return cmd_report_morning(args)
    if args.what == "mou":
        return cmd_report_mou(args)
    if args.what == "cra-audit":
        return cmd_report_cra_audit(args)
    from vhub.reports import build_backlog, write_backlog
    from vhub.store.tables import utcnow
    from vhub.triage import load_config

    settings = _store_settings()  # the running stack's store, from whichever folder this is run
    ctx = context.configure(settings)
    ctx.db.migrate()
    with ctx.db.session() as session:
        report = build_backlog(session, load_config(), utcnow())
    for path in write_backlog(report, args.out or settings.data_path / "reports"):
        print(path)
    return 0


def _check_month(month: str | None, report: str, whose: str) -> None:
    """A monthly report's --month, refused in one plain line when it is missing or not a month."""
    from vhub.reports.mou import month_bounds

    if not month:
        raise SystemExit(f"vhub report {report} needs --month YYYY-MM (the month whose {whose}).")
    try:
        month_bounds(month)
    except ValueError as error:
        raise SystemExit(f"vhub report {report}: {error}.") from None


def cmd_report_mou(args: argparse.Namespace) -> int:
    from vhub.mou import mou_config
    from vhub.reports.mou import build_mou_report, front_doors, write_mou_report
    from vhub.store.tables import utcnow

    _check_month(args.month, "mou", "referrals it reports on")
    settings = _store_settings()
    ctx = context.configure(settings)
    ctx.db.migrate()
    with ctx.db.session(read_only=True) as session:
        report = build_mou_report(session, mou_config(), front_doors(), args.month, utcnow())
    for path in write_mou_report(report, args.out or settings.data_path / "reports"):
        print(path)
    return 0


def cmd_report_cra_audit(args: argparse.Namespace) -> int:
    from vhub.cra_audit import cra_rubric, policing_areas
    from vhub.reports.cra_audit import build_cra_audit, write_cra_audit
    from vhub.store.tables import utcnow

    _check_month(args.month, "cra-audit", "incidents it audits")
    rubric = cra_rubric()
    areas = policing_areas()
    settings = _store_settings()
    ctx = context.configure(settings)
    ctx.db.migrate()
    with ctx.db.session(read_only=True) as session:
        report = build_cra_audit(session, rubric, areas, args.month, utcnow())
    for path in write_cra_audit(report, args.out or settings.data_path / "reports"):
        print(path)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from tasks.referral_audit import draw_month
    from vhub.reports.mou import month_bounds
    from vhub.store.tables import utcnow

    try:
        month_bounds(args.month)
    except ValueError as error:
        raise SystemExit(f"vhub audit sample: {error}.") from None
    ctx = context.configure(_store_settings())
    logs.configure(ctx.settings, process="cli", console=False)
    ctx.db.migrate()
    summary = draw_month(ctx, args.month, actor=_actor(), now=utcnow())
    spread = ", ".join(f"{authority} {count}" for authority, count in sorted(summary["by_authority"].items()))
    when = "drawn now" if summary["drawn_now"] else f"already drawn ({summary['drawn_by']}); nothing was changed"
    print(
        f"{args.month}: {summary['sampled']} of {summary['population']} referrals sent, {when}."
        + (f" By authority: {spread}." if spread else "")
    )
    return 0


def cmd_report_morning(args: argparse.Namespace) -> int:
    from tasks.watch import failed_jobs_by_function
    from vhub.alerts import send
    from vhub.portals import all_paused
    from vhub.reports.morning import build_morning, summary_card, write_morning
    from vhub.store.tables import utcnow

    ctx = _running_context()  # the failed jobs and paused portals are in the running stack's Redis
    logs.configure(ctx.settings, process="cli", console=False)
    ctx.db.migrate()
    now = utcnow()
    failed = dict(failed_jobs_by_function())
    with ctx.db.session(read_only=True) as session:
        report = build_morning(session, now, failed_jobs=failed, paused_portals=all_paused(ctx.jobs.connection))
    paths = write_morning(report, args.out or ctx.settings.data_path / "reports")
    for path in paths:
        print(path)
    if args.post:
        posted = send(ctx.settings, ctx.db, summary_card(report, paths[0].name), subject="morning_report:by-hand")
        print("Summary posted to the admins' channel." if posted else "The admins' channel did not take the summary.")
        return 0 if posted else 1
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from vhub.runs_view import render_list, render_run
    from vhub.store.runs import recent_runs, run_record
    from vhub.store.tables import utcnow

    ctx = context.configure(_settings())
    ctx.db.migrate()
    with ctx.db.session(read_only=True) as session:
        if args.action == "list":
            print(render_list(recent_runs(session, args.limit)))
            return 0
        record = run_record(session, args.run_id, now=utcnow())
    if record is None:
        raise VhubError(
            f"There is no run {args.run_id!r}; `vhub runs list` shows the ids (the first 8 characters are enough).",
            code="unknown_run",
        )
    print(render_run(record))
    return 0


def cmd_alerts_test(args: argparse.Namespace) -> int:
    from vhub.alerts import CHANNEL_SETTINGS, Alert, env_var, send, webhook_url

    ctx = context.configure(_resolved())
    logs.configure(ctx.settings, process="cli", console=False)
    ctx.db.migrate()
    failed = 0
    for channel in CHANNEL_SETTINGS if args.channel is None else [args.channel]:
        if not webhook_url(ctx.settings, channel).strip():
            print(f"{channel}: not set ({env_var(channel)}); alerts for it are only logged and audited.")
            failed += 1
            continue
        alert = Alert("VHub test alert", {"Channel": channel, "Sent by": "vhub alerts test"}, channel=channel)
        ok = send(ctx.settings, ctx.db, alert, subject=f"test:{channel}")
        print(f"{channel}: {'the channel took the test card' if ok else 'NOT taken: see the log for the reason'}")
        failed += 0 if ok else 1
    return 0 if not failed else 1


def _resolved() -> Settings:
    from vhub.runtime import resolve

    return resolve(_settings())


def cmd_review_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from vhub.referral_audit import audit_config
    from vhub.review import create_app
    from vhub.runtime import resolve

    settings = resolve(_settings())
    logs.configure(settings, process="review")
    audit_config()  # config/referral_audit.toml: the audit pages' form; a mistake stops the app, naming it
    ctx = context.configure(settings)
    ctx.db.migrate()
    port = settings.review_port if args.port is None else args.port
    host = args.host or settings.review_host
    config = uvicorn.Config(
        create_app(settings, ctx),
        host=host,
        port=port,
        access_log=False,
        log_config=None,
        lifespan="off",
        proxy_headers=True,  # believed only from review_trusted_proxies
        forwarded_allow_ips=settings.review_trusted_proxies,
    )
    server = uvicorn.Server(config)
    print(f"review app on http://{host}:{port}", flush=True)
    server.run()
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    from vhub.errors import BusinessError
    from vhub.review.accounts import add_user, disable_user, enable_user, password_problem, reset_password

    ctx = context.configure(_store_settings())
    if args.action == "list":
        return _list_users(ctx)
    ctx.db.migrate()
    if args.action == "disable":
        with ctx.db.session() as session:
            disable_user(session, args.name, actor=_actor())
        print(f"Account {args.name} is disabled; its sessions have ended.")
        return 0
    if args.action == "enable":
        with ctx.db.session() as session:
            changed = enable_user(session, args.name, actor=_actor())
        print(f"Account {args.name} can sign in again." if changed else f"Account {args.name} could already sign in.")
        return 0
    # Read and judge the password before the store's transaction opens: a person typing must not hold it.
    password = _read_password(args)
    if password is None:
        return 2
    if args.action == "password":
        with ctx.db.session() as session:
            reset_password(session, args.name, password, actor=_actor())
        print(f"Account {args.name} has a new password; its sessions have ended.")
        return 0
    problem = password_problem(password, args.name, args.display_name)
    if problem is not None:
        raise BusinessError(f"{problem} Nothing was changed.", code="weak_password")
    with ctx.db.session() as session:
        add_user(session, args.name, password, args.role, args.display_name, authority=args.authority)
    print(f"Account {args.name} ({args.role}{', ' + args.authority if args.authority else ''}) added.")
    return 0


def _store_settings() -> Settings:
    """The settings of the running stack's store when one is found; else as set (accounts may be added before
    the first `vhub up`)."""
    from vhub.runtime import resolve
    from vhub.status import find_stack

    try:
        return find_stack(_settings())[0]
    except VhubError:
        return resolve(_settings())


def _read_password(args: argparse.Namespace) -> str | None:
    import getpass

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass(f"Password for {args.name} (12 characters or more, hard to guess): ")
    if password != getpass.getpass("Again: "):
        print("The two passwords differ; nothing was changed.", file=sys.stderr)
        return None
    return password


def _list_users(ctx: context.AppContext) -> int:
    from vhub.models import uk_timestamp
    from vhub.review.accounts import list_users
    from vhub.status import database_file
    from vhub.store.tables import utcnow

    sqlite = database_file(ctx.settings)
    if sqlite is not None and not sqlite.is_file():
        raise VhubError(
            f"There is no database at {sqlite}: set VHUB_DATA_DIR to the data folder of the stack.", code="no_store"
        )
    now = utcnow()
    with ctx.db.session(read_only=True) as session:
        rows = list_users(session)
    if not rows:
        print("No accounts yet: add one with `vhub users add NAME --role reviewer|admin|auditor|partner_auditor`.")
        return 0
    roles = {row.id: f"{row.role} ({row.authority})" if row.authority else row.role for row in rows}
    wide = max(10, *(len(role) + 2 for role in roles.values()))  # a partner auditor's authority widens the column
    print(f"{'username':<24}{'role':<{wide}}{'status':<34}last signed in")
    for row in rows:
        if row.disabled:
            state = "disabled"
        elif row.locked_until is not None and row.locked_until > now:
            state = f"paused until {uk_timestamp(row.locked_until)}"
        else:
            state = "enabled"
        last = uk_timestamp(row.last_sign_in_at) if row.last_sign_in_at else "never"
        role = roles[row.id]
        print(f"{row.username:<24}{role:<{wide}}{state:<34}{last}")
    return 0


def cmd_selectors_check(args: argparse.Namespace) -> int:
    from bots.check import check_system
    from vhub import browser
    from vhub.portals import external_systems

    settings = _store_settings()  # a simulated stack's systems, from whichever folder this is run
    logs.configure(settings, process="cli", console=False)
    systems = [args.portal] if args.portal else external_systems()
    if args.portal and args.portal not in external_systems():
        raise VhubError(
            f"There is no system called {args.portal!r}. The systems are: {', '.join(external_systems())}.",
            code="unknown_system",
        )
    broken = 0
    try:
        for system in systems:
            if missing := settings.unconfigured([system]):
                print(f"{system}: not configured (set {', '.join(missing)}, or run `vhub up --simulate`)")
                broken += 1
                continue
            print(f"{system}:")
            for result in check_system(settings, system):
                if result.skipped:
                    print(f"  {result.page:<24} not checked: {result.skipped}")
                elif result.error:
                    broken += 1
                    print(f"  {result.page:<24} FAILED: {result.error}")
                elif result.broken:
                    broken += 1
                    for locator, matched in result.broken:
                        found = "nothing" if matched == 0 else f"{matched} elements"
                        print(f"  {result.page:<24} BROKEN: {locator} matched {found} (selectors/{system}.yaml)")
                else:
                    print(f"  {result.page:<24} ok")
    finally:
        browser.close_all()
    print("All locators match." if not broken else f"{broken} problem(s): update the selectors files named above.")
    return 0 if not broken else 1


def cmd_portals(args: argparse.Namespace) -> int:
    from tasks.submit import resume_portal
    from vhub.portals import all_paused, portal_names

    if args.action == "resume" and args.name not in portal_names():
        raise VhubError(
            f"There is no portal called '{args.name}'. config/portals.toml names: {', '.join(portal_names())}.",
            code="unknown_portal",
        )
    ctx = _running_context()
    paused = all_paused(ctx.jobs.connection)
    if args.action == "list":
        for name in portal_names():
            print(f"{name:<26} {'PAUSED: ' + paused[name] if name in paused else 'running'}")
        return 0
    requeued = resume_portal(args.name, actor=_actor(), ctx=ctx)
    print(f"{args.name} resumed; {requeued} waiting submission(s) queued again.")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.what == "review":
        return cmd_bench_review(args)
    if args.what == "run":
        return cmd_bench_run(args)
    from vhub.simulated.bench import bench_read

    settings = _settings()
    settings.ensure_dirs()
    bench_read(settings, pages=args.pages, rounds=3 if args.rounds is None else args.rounds)
    return 0


def cmd_bench_run(args: argparse.Namespace) -> int:
    from vhub.simulated.bench_run import bench_run

    try:
        incidents = [int(part.replace("_", "")) for part in args.incidents.split(",") if part.strip()]
    except ValueError:
        raise ConfigurationError(
            f"--incidents takes numbers separated by commas, such as 1000,5000,10000 (not '{args.incidents}').",
            code="bench_arguments",
        ) from None
    settings = _settings()
    settings.ensure_dirs()
    report = bench_run(
        settings,
        incidents=incidents,
        workers=args.workers,
        latency_ms=args.latency,
        send_per_portal=args.send_per_portal,
        review_drafts=args.drafts,
        review_clients=args.clients,
        review_rounds=10 if args.rounds is None else args.rounds,
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return 0 if all(run["complete"] for run in report["runs"]) else 1


def cmd_bench_review(args: argparse.Namespace) -> int:
    from vhub.simulated.bench_review import bench_review

    rounds = 10 if args.rounds is None else args.rounds
    bench_review(_settings(), drafts=args.drafts, clients=args.clients, rounds=rounds)
    return 0


def cmd_faults(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from vhub.runtime import stop_on_signals
    from vhub.simulated.fault_run import FULL, REDUCED, run_faults

    plan = REDUCED if args.reduced else FULL
    chosen = {
        "incidents": args.incidents,
        "kills": args.kills,
        "records_down_s": args.records_down,
        "retry_scale": args.retry_scale,
        "workers": args.workers,
    }
    plan = replace(plan, **{name: value for name, value in chosen.items() if value is not None})
    if plan.incidents < 1 or plan.kills < 0 or plan.records_down_s < 0 or plan.retry_scale <= 0 or plan.workers < 1:
        raise ConfigurationError(
            "--incidents and --workers take 1 or more; --kills and --records-down 0 or more; --retry-scale more "
            "than 0.",
            code="faults_arguments",
        )
    settings = _settings()
    settings.ensure_dirs()
    stop_on_signals()  # a SIGTERM stops the stack on the way out, as Ctrl-C does
    return run_faults(settings, plan).code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vhub", description="Vulnerability Hub bot workers.")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser(
        "up",
        help="start Redis, the workers, the scheduler and the review app; Ctrl-C stops all. Live by default: "
        "every external system's URL and account must be set",
    )
    up.add_argument("--workers", type=int, default=None, help="number of rq workers (default 2)")
    up.add_argument(
        "--simulate",
        action="store_true",
        help="start the simulated external systems and talk to nothing else (same as VHUB_MODE=simulated)",
    )
    up.add_argument("--no-scheduler", action="store_true", help="do not run the scheduled scans")
    up.set_defaults(func=cmd_up)

    worker = sub.add_parser("worker", help="run one worker against VHUB_REDIS_URL (to scale out)")
    worker.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    worker.add_argument("--name", default=None)
    worker.set_defaults(func=cmd_worker)

    scheduler = sub.add_parser("scheduler", help="enqueue the scheduled runs of queue/queues.toml")
    scheduler.set_defaults(func=cmd_scheduler)

    status = sub.add_parser("status", help="queue depths, workers, failures and what is stored")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    verify_parser = sub.add_parser(
        "verify", help="check the invariants against the store, the queues and the partners' own records"
    )
    verify_parser.add_argument("--json", type=Path, default=None, help="also write every check and breach here")
    verify_parser.add_argument(
        "--no-source", action="store_true", help="do not read the records system's list (no browser)"
    )
    verify_parser.set_defaults(func=cmd_verify)

    run = sub.add_parser("run", help="queue a run now")
    run.add_argument(
        "what",
        choices=["scan", "isr", "encompass", "morning", "watch", "decisions"],
        help="scan: read changed incidents from the records system; isr: read new information sharing "
        "requests from the partner portal; encompass: the before-school Operation Encompass check; morning: the "
        "morning report (written and posted to Teams); watch: look for failures, paused portals and deadlines "
        "about to be missed now; decisions: read the children's services decisions on the referrals still open "
        "and escalate those overdue under config/mou.toml",
    )
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="the whole flow on the simulated systems with synthetic data")
    demo.add_argument("--incidents", type=int, default=300)
    demo.add_argument("--seed", type=int, default=2026)
    demo.add_argument("--workers", type=int, default=None)
    demo.add_argument("--exit", action="store_true", help="stop once the summary is printed")
    demo.add_argument("--summary-json", type=Path, default=None, help="also write the summary here")
    demo.add_argument(
        "--night",
        action="store_true",
        help="an unattended night on a stepped clock: every schedule fires at its time (each once), the "
        "before-school Encompass check escalates what is not approved, the morning report reaches the simulated "
        "Teams webhook",
    )
    demo.add_argument(
        "--auto-approve",
        action="store_true",
        help="approve every draft as 'auto-approve (demo)' (audited) and send it to its portal",
    )
    demo.add_argument(
        "--days",
        type=int,
        default=0,
        metavar="N",
        help="with --auto-approve: then N simulated days on a stepped clock, the front doors deciding (or not) on "
        "the referrals sent, the decision check reading them and escalating those overdue under config/mou.toml",
    )
    demo.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop waiting for the run after this long and report what is unfinished "
        "(default: 300 plus one per incident)",
    )
    demo.set_defaults(func=cmd_demo)

    fixtures = sub.add_parser("fixtures", help="the simulated external systems")
    fixtures_sub = fixtures.add_subparsers(dest="action", required=True)
    serve = fixtures_sub.add_parser("serve", help="serve every simulated system (records system, ISR portal)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument(
        "--port-base",
        type=int,
        default=8701,
        help="records system on this port, the ISR portal on the next; 0 = any free ports",
    )
    serve.add_argument("--ports-file", type=Path, default=None, help="write the systems' URLs here as JSON")
    serve.add_argument("--seed", type=int, default=2026)
    serve.add_argument("--incidents", type=int, default=300)
    serve.add_argument("--extra", type=Path, default=None, help="JSON file of extra incidents to plant")
    serve.add_argument("--anchor", type=_moment, default=None, help=ANCHOR_HELP)
    serve.set_defaults(func=cmd_fixtures_serve)
    dump = fixtures_sub.add_parser("dump", help="print the generator's ground truth as JSON")
    dump.add_argument("--seed", type=int, default=2026)
    dump.add_argument("--incidents", type=int, default=300)
    dump.add_argument("--anchor", type=_moment, default=None, help=ANCHOR_HELP)
    dump.set_defaults(func=cmd_fixtures_dump)

    db = sub.add_parser("db", help="the database")
    db_sub = db.add_subparsers(dest="action", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply migrations")
    upgrade.add_argument("--sql", action="store_true", help="print the SQL instead of applying it")
    upgrade.set_defaults(func=cmd_db_upgrade)

    failed = sub.add_parser("failed", help="failed jobs: list, show (why and evidence), replay, discard")
    failed.add_argument("action", choices=["list", "show", "replay", "discard"])
    failed.add_argument("job_ids", nargs="*")
    failed.add_argument("--all", action="store_true", help="replay every failed job (narrow with --queue, --since)")
    failed.add_argument("--queue", default=None, help="replay --all: only this queue's failed jobs")
    failed.add_argument(
        "--since", default=None, help="replay --all: only jobs failed since then: 6h, 90m, 2d or '01/12/2026 06:00'"
    )
    failed.add_argument("--reason", default=None, help="discard: why (kept in the audit trail)")
    failed.set_defaults(func=cmd_failed)
    review = sub.add_parser("review", help="the review app")
    review_sub = review.add_subparsers(dest="action", required=True)
    review_serve = review_sub.add_parser("serve", help="serve the review app (VHUB_REVIEW_HOST, VHUB_REVIEW_PORT)")
    review_serve.add_argument("--host", default=None)
    review_serve.add_argument("--port", type=int, default=None)
    review_serve.set_defaults(func=cmd_review_serve)

    users = sub.add_parser("users", help="accounts of the review app")
    users_sub = users.add_subparsers(dest="action", required=True)
    users_add = users_sub.add_parser("add", help="add an account (the password is asked for)")
    users_add.add_argument("name")
    users_add.add_argument(
        "--role",
        choices=["reviewer", "admin", "auditor", "partner_auditor"],
        required=True,
        help="reviewer: the queue; admin: everything; auditor: the force's referral audits; partner_auditor: a front "
        "door's auditor, read-only, seeing only the sampled referrals sent to its --authority",
    )
    users_add.add_argument(
        "--authority", default=None, help="partner_auditor only: its authority (a key of config/authorities.toml)"
    )
    users_add.add_argument("--display-name", default=None, help="the name others see (default: NAME)")
    users_add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    users_add.set_defaults(func=cmd_users)
    users_disable = users_sub.add_parser("disable", help="disable an account and end its sessions")
    users_disable.add_argument("name")
    users_disable.set_defaults(func=cmd_users)
    users_sub.add_parser("list", help="each account: role, enabled, last sign-in").set_defaults(func=cmd_users)
    users_enable = users_sub.add_parser("enable", help="let a disabled or paused account sign in again")
    users_enable.add_argument("name")
    users_enable.set_defaults(func=cmd_users)
    users_password = users_sub.add_parser("password", help="set a new password (asked for) and end its sessions")
    users_password.add_argument("name")
    users_password.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    users_password.set_defaults(func=cmd_users)

    selectors = sub.add_parser("selectors", help="the locators of each system's pages")
    selectors_sub = selectors.add_subparsers(dest="action", required=True)
    check = selectors_sub.add_parser("check", help="open each page and check every locator matches one element")
    check.add_argument("--portal", default=None, help="check only this system (e.g. referral_shropshire)")
    check.set_defaults(func=cmd_selectors_check)

    portals_parser = sub.add_parser("portals", help="partner portals: which are paused, resume one")
    portals_sub = portals_parser.add_subparsers(dest="action", required=True)
    portals_sub.add_parser("list", help="each portal and whether it is paused").set_defaults(func=cmd_portals)
    resume = portals_sub.add_parser("resume", help="resume a paused portal and send what waited")
    resume.add_argument("name")
    resume.set_defaults(func=cmd_portals)

    report = sub.add_parser("report", help="reports for the force")
    report.add_argument(
        "what",
        choices=["backlog", "morning", "mou", "cra-audit"],
        help="backlog: repeat children, risky crime types, hidden "
        "high risk, missing assessments, oldest waiting (HTML with charts, and CSV); morning: the night's counts, "
        "failures waiting, drafts due before 09:00, deadlines missed yesterday, paused portals, children's services "
        "decisions (HTML and text); mou: the month's referrals per front door, decided, decided within the MOU's "
        "time, median time to decision, escalations, for the partnership board (HTML and CSV); cra-audit: the month's "
        "child risk assessments scored by area and team, the weakest and the missing for each area's single point "
        "of contact (HTML with charts, and CSV)",
    )
    report.add_argument("--post", action="store_true", help="morning: also post its summary to the admins' channel")
    report.add_argument(
        "--month", default=None, help="mou, cra-audit: the month, YYYY-MM, whose referrals or incidents it reports on"
    )
    report.add_argument("--out", type=Path, default=None, help="folder to write to (default: <data>/reports)")
    report.set_defaults(func=cmd_report)

    audit = sub.add_parser("audit", help="the monthly quality audit of the referrals sent to children's services")
    audit_sub = audit.add_subparsers(dest="action", required=True)
    audit_sample = audit_sub.add_parser(
        "sample",
        help="draw a month's sample of sent referrals for the auditors (config/referral_audit.toml), once: drawing "
        "it again shows the same sample and changes nothing",
    )
    audit_sample.add_argument("--month", required=True, help="the month, YYYY-MM, whose sent referrals are sampled")
    audit_sample.set_defaults(func=cmd_audit)

    runs = sub.add_parser("runs", help="runs as records: scans, checks and reports, with their counts")
    runs_sub = runs.add_subparsers(dest="action", required=True)
    runs_list = runs_sub.add_parser("list", help="the latest runs, newest first")
    runs_list.add_argument("--limit", type=int, default=20)
    runs_list.set_defaults(func=cmd_runs)
    runs_show = runs_sub.add_parser("show", help="one run: start, end, counts per stage, failures, deadlines at risk")
    runs_show.add_argument("run_id", help="the run's id (its first 8 characters are enough)")
    runs_show.set_defaults(func=cmd_runs)

    alerts = sub.add_parser("alerts", help="the Teams channels alerts go to")
    alerts_sub = alerts.add_subparsers(dest="action", required=True)
    alerts_test = alerts_sub.add_parser(
        "test", help="post a test card to each channel (or one) and say if it was taken"
    )
    alerts_test.add_argument("--channel", choices=["admins", "duty"], default=None)
    alerts_test.set_defaults(func=cmd_alerts_test)

    faults = sub.add_parser(
        "faults", help="rehearse faults on the simulated stack and show nothing is lost or sent twice"
    )
    faults_sub = faults.add_subparsers(dest="action", required=True)
    faults_run = faults_sub.add_parser(
        "run",
        help="a run in phases on a fresh simulated stack, every draft auto-approved, each fault injected alone then "
        "all together; then one `vhub failed replay --all` and `vhub verify`; prints the table, exits 1 on any loss, "
        "duplicate or breach",
    )
    faults_run.add_argument("--reduced", action="store_true", help="a few incidents, each fault briefly (make test)")
    faults_run.add_argument("--incidents", type=int, default=None, help="new incidents each phase brings (25)")
    faults_run.add_argument("--kills", type=int, default=None, help="workers killed in the kills' phase (10)")
    faults_run.add_argument(
        "--records-down", type=float, default=None, metavar="SECONDS", help="the records system's outage (120)"
    )
    faults_run.add_argument(
        "--retry-scale", type=float, default=None, help="retry intervals of queue/queues.toml times this (1)"
    )
    faults_run.add_argument("--workers", type=int, default=None, help="rq workers (2)")
    faults_run.set_defaults(func=cmd_faults)

    bench = sub.add_parser("bench", help="measure the bots' speed against a baseline in the same run")
    bench.add_argument(
        "what",
        choices=["run", "read", "review"],
        help="run: whole runs at each --incidents beside the floor and a naive bot, sending, memory, then the "
        "review app; read: reading incident pages from the records system; review: the review app's pages with "
        "a backlog",
    )
    bench.add_argument(
        "--incidents", default="1000,5000,10000", help="run: the sizes of the runs, comma-separated (1000,5000,10000)"
    )
    bench.add_argument("--workers", type=int, default=2, help="run: workers (and the floor's threads)")
    bench.add_argument(
        "--latency", type=float, default=0.0, help="run: milliseconds the simulated systems add to each request (0)"
    )
    bench.add_argument(
        "--send-per-portal", type=int, default=20, help="run: drafts approved and sent to each portal (0: none)"
    )
    bench.add_argument("--json", type=Path, default=None, help="run: also write the figures to this JSON file")
    bench.add_argument("--pages", type=int, default=40)
    bench.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="read: rounds of each way (3); review and run: requests per page per reviewer (10)",
    )
    bench.add_argument(
        "--drafts", type=int, default=10_000, help="review, and after a run: drafts in the store (run: 0, not timed)"
    )
    bench.add_argument("--clients", type=int, default=10, help="review: reviewers signed in at once")
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    keep_private()  # the database, logs, reports and evidence hold personal data: the service account's alone
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except VhubError as error:
        print(f"vhub: {error.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
