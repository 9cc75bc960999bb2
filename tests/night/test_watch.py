"""The watch: repeated failures, a portal still paused and deadlines about to be missed, each told once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from redis import Redis
from rq import SimpleWorker

from tasks.watch import watch
from tests.night.conftest import ServedSink
from vhub import context, portals
from vhub.queues import SERIALIZER

AT = "2026-12-01T07:00:00+00:00"


def fail_jobs(ctx: context.AppContext, count: int) -> None:
    """``count`` jobs that really fail in a real worker (int() of a word), left in the failed registry."""
    queue = ctx.jobs.queue("low")
    for _ in range(count):
        queue.enqueue_call("builtins.int", args=("not a number",))
    SimpleWorker([queue], connection=ctx.jobs.connection, serializer=SERIALIZER).work(burst=True)


def titles(sink: ServedSink, channel: str) -> list[str]:
    return [post["card"]["attachments"][0]["content"]["body"][0]["text"] for post in sink.received(channel)]


def test_failures_are_told_at_the_threshold_and_again_only_when_more_fail(
    ctx: context.AppContext, sink: ServedSink
) -> None:
    """Below the threshold nothing is said; at it, one card; the same count again, nothing; one more, a new card."""
    fail_jobs(ctx, 2)
    watch(AT)
    fail_jobs(ctx, 1)
    watch(AT)
    watch(AT)
    fail_jobs(ctx, 1)
    watch(AT)
    assert ["3 failed jobs are waiting for an admin", "4 failed jobs are waiting for an admin"] == titles(
        sink, "admins"
    )


def test_deadlines_and_paused_portals_are_told_once(
    ctx: context.AppContext, make_draft: Callable[..., int], sink: ServedSink, redis_client: Redis
) -> None:
    """A draft due within the warning hours goes to the duty channel once; a paused portal is reminded once a day."""
    soon = make_draft(datetime(2026, 12, 1, 8, 30, tzinfo=UTC), workflow="referral")
    make_draft(datetime(2026, 12, 1, 15, 0, tzinfo=UTC))  # not yet within two hours
    make_draft(datetime(2026, 12, 1, 8, 0, tzinfo=UTC), status="sent")  # nothing to warn about
    portals.pause(redis_client, "marac_portal", "its pages changed")
    watch(AT)
    watch(AT)
    assert ["1 draft(s) will miss their deadline within 2 hours unless sent"] == titles(sink, "duty")
    lines = [element["text"] for element in sink.received("duty")[0]["card"]["attachments"][0]["content"]["body"][2:]]
    assert [f"Draft #{soon} (Referral, OCC/26/000001): due 01/12/2026 08:30 GMT"] == lines
    assert ["Portal marac_portal is still paused"] == titles(sink, "admins")
    watch("2026-12-02T07:00:00+00:00")
    assert ["Portal marac_portal is still paused"] * 2 == titles(sink, "admins")
