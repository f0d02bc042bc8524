"""Database-backed rate limits: a token bucket per second and a sliding window."""

from __future__ import annotations

import pytest

from openesp.lib.ratelimit import Limits, acquire

pytestmark = pytest.mark.django_db


def test_it_grants_everything_without_limits():
    assert acquire("k", 500, Limits()).granted == 500


def test_it_limits_per_second_and_refills():
    limits = Limits(per_second=10)
    first = acquire("k", 25, limits, now=1000.0)
    assert (first.granted, first.retry_after > 0) == (10, True)
    assert acquire("k", 25, limits, now=1000.0).granted == 0
    assert acquire("k", 25, limits, now=1000.5).granted == 5
    assert acquire("k", 25, limits, now=1010.0).granted == 10  # burst is capped at one second's worth


def test_it_limits_a_sliding_window():
    limits = Limits(window_count=100, window_seconds=60)
    assert acquire("w", 80, limits, now=600.0).granted == 80
    assert acquire("w", 80, limits, now=630.0).granted == 20
    blocked = acquire("w", 10, limits, now=659.0)
    assert blocked.granted == 0 and 0 < blocked.retry_after <= 60
    # Half-way into the next window half of the previous window still counts: 100 - 50 = 50.
    assert acquire("w", 80, limits, now=690.0).granted == 50
    # Two windows later nothing of the old traffic counts.
    assert acquire("w", 200, limits, now=900.0).granted == 100


def test_it_keeps_limits_apart_by_key():
    limits = Limits(per_second=1)
    assert acquire("a", 1, limits, now=5.0).granted == 1
    assert acquire("b", 1, limits, now=5.0).granted == 1
    assert acquire("a", 1, limits, now=5.0).granted == 0


def test_it_combines_both_limits():
    limits = Limits(per_second=50, window_count=60, window_seconds=3600)
    assert acquire("c", 100, limits, now=0.0).granted == 50
    assert acquire("c", 100, limits, now=1.0).granted == 10
    assert acquire("c", 100, limits, now=2.0).granted == 0


def test_it_shares_connection_slots_between_workers():
    from openesp.lib.ratelimit import acquire_slots, release_slots

    assert acquire_slots("smtp:1", "w1", 5, 8, ttl=60, now=100) == 5
    assert acquire_slots("smtp:1", "w2", 5, 8, ttl=60, now=100) == 3
    # Renewing keeps what one holds; asking for fewer gives some back.
    assert acquire_slots("smtp:1", "w1", 2, 8, ttl=60, now=110) == 2
    assert acquire_slots("smtp:1", "w2", 6, 8, ttl=60, now=110) == 6
    release_slots("smtp:1", "w2")
    assert acquire_slots("smtp:1", "w3", 8, 8, ttl=60, now=111) == 6


def test_a_worker_left_without_slots_gets_its_share_at_the_holders_next_turn():
    from openesp.lib.ratelimit import acquire_slots, release_slots

    assert acquire_slots("smtp:2", "w1", 8, 8, ttl=60, now=100) == 8
    assert acquire_slots("smtp:2", "w2", 8, 8, ttl=60, now=100) == 0  # every connection is in use
    # w2 waits: at its next batch w1 keeps only its fair share, and w2 gets the rest.
    assert acquire_slots("smtp:2", "w1", 8, 8, ttl=60, now=101) == 4
    assert acquire_slots("smtp:2", "w2", 8, 8, ttl=60, now=101) == 4
    assert acquire_slots("smtp:2", "w1", 8, 8, ttl=60, now=102) == 4
    release_slots("smtp:2", "w2")  # w2 is idle again: w1 may use them all
    assert acquire_slots("smtp:2", "w1", 8, 8, ttl=60, now=103) == 8
    # A waiter that died stops holding others back when its wait expires.
    assert acquire_slots("smtp:2", "w3", 8, 8, ttl=60, now=104) == 0
    assert acquire_slots("smtp:2", "w1", 8, 8, ttl=60, now=105) == 4
    assert acquire_slots("smtp:2", "w1", 8, 8, ttl=60, now=165) == 8


def test_it_frees_the_slots_of_a_dead_worker():
    from openesp.lib.ratelimit import acquire_slots

    assert acquire_slots("k", "dead", 4, 4, ttl=30, now=0) == 4
    assert acquire_slots("k", "alive", 4, 4, ttl=30, now=10) == 0
    assert acquire_slots("k", "alive", 4, 4, ttl=30, now=31) == 4


@pytest.mark.django_db(transaction=True)
def test_moving_the_models_to_lib_keeps_the_rows_of_an_existing_database():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from openesp.lib.models import RateLimitBucket

    before = [("delivery", "0004_sending_domain_verified"), ("lib", None)]
    MigrationExecutor(connection).migrate(before)  # a database from before the move
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO delivery_ratelimitbucket"
            " (key, tokens, refilled_at, window_start, window_count, previous_count)"
            " VALUES ('sendgrid:', 2.5, 0, 0, 7, 0)"
        )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    bucket = RateLimitBucket.objects.get(key="sendgrid:")
    assert (bucket.tokens, bucket.window_count) == (2.5, 7)


@pytest.mark.django_db
def test_failures_block_for_a_doubling_delay_that_is_forgotten_after_a_quiet_day():
    from openesp.lib.ratelimit import Penalty, blocked, blocked_for, record_failure

    penalty = Penalty(failures=5, window=900, first_block=60, longest_block=200)
    t = 1_000_000_000.0
    assert [record_failure("k", penalty, reason="why", now=t + i) for i in range(4)] == [0, 0, 0, 0]
    assert record_failure("k", penalty, reason="why", now=t + 4) == 60
    assert blocked_for("k", now=t + 5) == pytest.approx(59)
    assert [(b.key, b.reason, b.strikes) for b in blocked(now=t + 5)] == [("k", "why", 1)]
    assert record_failure("k", penalty, reason="why", now=t + 70) == 120  # the window still holds five
    assert record_failure("k", penalty, reason="why", now=t + 200) == 200  # capped
    assert blocked(now=t + 401) == []
    # A day and more without a failure: the strikes and the window are gone.
    later = t + 2 * 86400
    assert record_failure("k", penalty, reason="why", now=later) == 0


@pytest.mark.django_db
def test_a_refusal_with_a_reason_blocks_until_more_may_be_granted_and_prune_forgets_idle_keys():
    from openesp.lib.models import RateLimitBucket
    from openesp.lib.ratelimit import blocked_for, lift, prune

    t = 1_000_000_000.0
    one_a_minute = Limits(per_second=1 / 60)
    assert acquire("mail:x", 1, one_a_minute, now=t, reason="one a minute").granted == 1
    refused = acquire("mail:x", 1, one_a_minute, now=t + 1, reason="one a minute")
    assert refused.granted == 0 and refused.retry_after == pytest.approx(59)
    assert blocked_for("mail:x", now=t + 1) == pytest.approx(59)
    # Without a reason (delivery's buckets) a refusal blocks nothing.
    acquire("provider:1", 1, one_a_minute, now=t)
    acquire("provider:1", 1, one_a_minute, now=t + 1)
    assert blocked_for("provider:1", now=t + 1) == 0
    assert prune(("mail:",), now=t + 10) == 0  # recent
    assert prune(("mail:",), now=t + 5 * 86400) == 1
    assert RateLimitBucket.objects.filter(key="provider:1").exists()  # not under the prefixes
    assert not lift("mail:x") and lift("provider:1")
