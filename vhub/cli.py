"""The `vhub` command: every entry point of the product."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vhub import context, logs
from vhub.errors import ConfigurationError, VhubError
from vhub.settings import Settings, display_url, keep_private


def _settings() -> Settings:
    return Settings()


class NoStack(VhubError):
    code = "no_stack"


def _running_context() -> context.AppContext:
    """The context of the stack running on this data folder (or of VHUB_REDIS_URL)."""
    from vhub.runtime import resolve

    settings = resolve(_settings())
    if not settings.redis_url:
        raise NoStack("No running stack found: start `vhub up` first, or set VHUB_REDIS_URL.")
    return context.configure(settings)


def cmd_up(args: argparse.Namespace) -> int:
    from vhub.runtime import Simulated, Stack, exit_on_sigterm
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
    stack = Stack(settings, workers=args.workers, simulators=simulators, scheduler=not args.no_scheduler, review=True)
    exit_on_sigterm()
    context.configure(settings).db.migrate()
    with stack:
        print(f"Mode:           {stack.settings.mode}" + (" (simulated systems only)" if simulators else ""))
        print(f"Redis:          {display_url(stack.redis_url)}")
        print(f"Records system: {stack.records_url}")
        print(f"ISR portal:     {stack.isr_url}")
        print(f"Review app:     {stack.review_url}  (accounts: `vhub users add NAME --role reviewer|admin`)")
        print(f"Workers:        {stack.worker_count}" + ("" if args.no_scheduler else " (and the scheduler)"))
        print(f"Data folder:    {settings.data_path}")
        print("Running. `vhub status` shows the queues; Ctrl-C stops everything.", flush=True)
        try:
            # A worker, the scheduler or the review app that stops is restarted; Redis stopping stops all.
            reason = Supervisor(stack).run()
            print(f"Stopping: {reason} (see {settings.log_dir}).", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\nStopping...", flush=True)
    return 0


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
    from vhub.runtime import resolve
    from vhub.status import collect, render

    report = collect(resolve(_settings()))
    print(json.dumps(report, indent=2, default=str) if args.json else render(report))
    return 0


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
    run_id = start_scan(kind="manual")
    print(f"Queued a scan of the records system (run {run_id}). `vhub status` follows it.")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from vhub.simulated.demo import DemoOptions, run_demo

    options = DemoOptions(
        incidents=args.incidents,
        seed=args.seed,
        exit_after=args.exit,
        summary_json=args.summary_json,
        workers=args.workers,
        auto_approve=args.auto_approve,
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
    )
    return 0


def cmd_fixtures_dump(args: argparse.Namespace) -> int:
    from vhub.simulated.systems import ground_truth_json

    print(ground_truth_json(args.seed, args.incidents))
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
    from vhub.failed import check_failed, list_failed, replay

    jobs = _running_context().jobs
    if args.action == "list":
        failed = list_failed(jobs)
        if not failed:
            print("No failed jobs.")
        for job in failed:
            when = job.failed_at.isoformat(timespec="seconds") if job.failed_at else "?"
            print(f"{job.id}  {job.queue:<8} {when}  {job.function}({job.args})\n    {job.reason}")
        return 0
    if not args.all and not args.job_ids:
        print("Name the job ids to replay, or give --all.", file=sys.stderr)
        return 2
    if not args.all:
        check_failed(jobs, args.job_ids)
    replayed = replay(jobs, None if args.all else args.job_ids)
    print(f"Replayed {len(replayed)} job(s)." if replayed else "Nothing to replay.")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from vhub.reports import build_backlog, write_backlog
    from vhub.store.tables import utcnow
    from vhub.triage import load_config

    settings = _settings()
    ctx = context.configure(settings)
    ctx.db.migrate()
    with ctx.db.session() as session:
        report = build_backlog(session, load_config(), utcnow())
    for path in write_backlog(report, args.out or settings.data_path / "reports"):
        print(path)
    return 0


def cmd_review_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from vhub.review import create_app
    from vhub.runtime import resolve

    settings = resolve(_settings())
    logs.configure(settings, process="review")
    ctx = context.configure(settings)
    ctx.db.migrate()
    port = settings.review_port if args.port is None else args.port
    host = args.host or settings.review_host
    config = uvicorn.Config(
        create_app(settings, ctx), host=host, port=port, access_log=False, log_config=None, lifespan="off"
    )
    server = uvicorn.Server(config)
    print(f"review app on http://{host}:{port}", flush=True)
    server.run()
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    import getpass

    from vhub.errors import BusinessError
    from vhub.review.accounts import add_user, disable_user, password_problem

    settings = _settings()
    ctx = context.configure(settings)
    ctx.db.migrate()
    if args.action == "disable":
        with ctx.db.session() as session:
            disable_user(session, args.name)
        print(f"Account {args.name} is disabled; its sessions have ended.")
        return 0
    # Read and judge the password before the store's transaction opens: a person typing must not hold it.
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {args.name} (12 characters or more, hard to guess): ")
    problem = password_problem(password, args.name, args.display_name)
    if problem is not None:
        raise BusinessError(f"{problem} Nothing was changed.", code="weak_password")
    if not args.password_stdin and password != getpass.getpass("Again: "):
        print("The two passwords differ; nothing was changed.", file=sys.stderr)
        return 2
    with ctx.db.session() as session:
        add_user(session, args.name, password, args.role, args.display_name)
    print(f"Account {args.name} ({args.role}) added.")
    return 0


def cmd_selectors_check(args: argparse.Namespace) -> int:
    from bots.check import check_system
    from vhub import browser
    from vhub.portals import external_systems
    from vhub.runtime import resolve

    settings = resolve(_settings())
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
    requeued = resume_portal(args.name)
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

    run = sub.add_parser("run", help="queue a run now")
    run.add_argument(
        "what",
        choices=["scan", "isr"],
        help="scan: read changed incidents from the records system; isr: read new information sharing "
        "requests from the partner portal",
    )
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="the whole flow on the simulated systems with synthetic data")
    demo.add_argument("--incidents", type=int, default=300)
    demo.add_argument("--seed", type=int, default=2026)
    demo.add_argument("--workers", type=int, default=None)
    demo.add_argument("--exit", action="store_true", help="stop once the summary is printed")
    demo.add_argument("--summary-json", type=Path, default=None, help="also write the summary here")
    demo.add_argument(
        "--auto-approve",
        action="store_true",
        help="approve every draft as 'auto-approve (demo)' (audited) and send it to its portal",
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
    serve.set_defaults(func=cmd_fixtures_serve)
    dump = fixtures_sub.add_parser("dump", help="print the generator's ground truth as JSON")
    dump.add_argument("--seed", type=int, default=2026)
    dump.add_argument("--incidents", type=int, default=300)
    dump.set_defaults(func=cmd_fixtures_dump)

    db = sub.add_parser("db", help="the database")
    db_sub = db.add_subparsers(dest="action", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply migrations")
    upgrade.add_argument("--sql", action="store_true", help="print the SQL instead of applying it")
    upgrade.set_defaults(func=cmd_db_upgrade)

    failed = sub.add_parser("failed", help="failed jobs: list them, replay them")
    failed.add_argument("action", choices=["list", "replay"])
    failed.add_argument("job_ids", nargs="*")
    failed.add_argument("--all", action="store_true", help="replay every failed job")
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
    users_add.add_argument("--role", choices=["reviewer", "admin"], required=True)
    users_add.add_argument("--display-name", default=None, help="the name others see (default: NAME)")
    users_add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    users_add.set_defaults(func=cmd_users)
    users_disable = users_sub.add_parser("disable", help="disable an account and end its sessions")
    users_disable.add_argument("name")
    users_disable.set_defaults(func=cmd_users)

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
        choices=["backlog"],
        help="backlog: repeat children, risky crime types, hidden "
        "high risk, missing assessments, oldest waiting (HTML with charts, and CSV)",
    )
    report.add_argument("--out", type=Path, default=None, help="folder to write to (default: <data>/reports)")
    report.set_defaults(func=cmd_report)

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
