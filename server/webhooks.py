"""Webhook delivery: the outbox's events, signed and POSTed to each endpoint of ``WEBHOOK_URL`` by one instance
at a time, at least once, in order per booking, retried with backoff (docs/webhooks.md).

One asyncio task per instance, started and stopped with the server. At every poll it takes (or renews) the
lease; the instance holding it makes a delivery for each new event and endpoint, claims what is due, as many
as it has free slots, and makes each attempt as a task of its own. A slow receiver holds one slot for at most
the timeout: never the poll, never the seat work, which only ever shares the database with short statements.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
from collections.abc import Callable

import aiohttp
from yarl import URL

from server.core.clock import Clock
from server.core.deliveries import DeliveryStatus, RetryPolicy, succeeded
from server.core.signatures import HEADER, sign
from server.metrics import Metrics
from server.settings import WebhookSettings
from server.storage.webhooks import Attempt, Due, WebhookStore

__all__ = ["LEASE", "Webhooks"]

log = logging.getLogger(__name__)

LEASE = "webhooks"  # the lease's name in the database
# Each poll looks this far back for events without deliveries: transactions commit out of the order of their
# timestamps, and instances' clocks differ a little. Taking the lease over looks back the whole retry window.
SCAN_SLACK_MS = 5 * 60_000
UPKEEP_INTERVAL_MS = 60_000  # how often abandoned deliveries are failed and old events pruned
PRUNE_BATCH = 1000  # events deleted per upkeep at most, so that one upkeep stays short
MAX_ERROR_LENGTH = 500
USER_AGENT = "seat-server-webhooks"


class Webhooks:
    """The delivery loop of one instance. ``jitter`` draws the random part of each backoff, from [0, 1)."""

    def __init__(
        self,
        store: WebhookStore,
        settings: WebhookSettings,
        metrics: Metrics,
        clock: Clock,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self._settings = settings
        self._urls = settings.urls
        self._metrics = metrics
        self._clock = clock
        self._jitter = jitter
        self._policy = RetryPolicy(
            first_ms=int(settings.webhook_backoff_seconds * 1000),
            max_ms=int(settings.webhook_backoff_max_seconds * 1000),
            window_ms=int(settings.webhook_retry_hours * 3_600_000),
        )
        self._lease_ms = int(settings.webhook_lease_seconds * 1000)
        # A claimed attempt is due again after twice its timeout: long enough for it to end and be recorded, so
        # only an attempt whose instance died is made again.
        self._claim_ms = int(2 * settings.webhook_timeout_seconds * 1000)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"  # this instance, in the lease
        self.holding = False  # whether this instance held the lease at its last look
        self._caught_up = False  # whether, since taking the lease, every event of the window has its deliveries
        self._renew_at = 0  # while holding: when to renew the lease, a third into its term
        self._next_upkeep = 0
        self._inflight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()  # an attempt ended: its booking's next event may be due at once
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Poll every ``WEBHOOK_POLL_INTERVAL_SECONDS``, and at once whenever an attempt ends, until stopped."""
        self._task = asyncio.create_task(self._run())

    async def stop(self, grace: float) -> None:
        """Stop polling; let attempts under way end for up to ``grace`` seconds, cancel the rest (they are made
        again once their claim runs out), and give the lease up so that another instance takes over at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._inflight:
            _, unfinished = await asyncio.wait(self._inflight, timeout=grace)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        if self.holding:
            try:
                await self._store.release_lease(LEASE, self.holder)
            except Exception:
                log.exception("could not give the webhook lease up; another instance takes over when it runs out")
            self.holding = False
        if self._http is not None:
            await self._http.close()

    async def _run(self) -> None:
        interval = self._settings.webhook_poll_interval_seconds
        while True:
            self._wake.clear()
            try:
                await self.poll()
            except Exception:
                log.exception("webhook delivery failed; retrying in %.1fs", interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)

    async def poll(self) -> None:
        """One look at the outbox: take or renew the lease, and if this instance holds it, make the deliveries
        of new events and start the attempts that are due."""
        now = self._clock.now()
        if not (self.holding and now < self._renew_at):
            if not await self._store.take_lease(LEASE, self.holder, now, self._lease_ms):
                if self.holding:
                    log.warning("webhook lease lost to another instance")
                self.holding = self._caught_up = False
                self._metrics.webhook_lease.set(0)
                self._metrics.webhook_backlog.set(0)
                return
            self._renew_at = now + self._lease_ms // 3
            if not self.holding:
                log.info("delivering webhooks to %s", ", ".join(map(_shown, self._urls)))
            self.holding = True
            self._metrics.webhook_lease.set(1)
        since = now - (SCAN_SLACK_MS if self._caught_up else self._policy.window_ms)
        await self._store.add_deliveries(self._urls, since)
        self._caught_up = True
        if now >= self._next_upkeep:
            await self._store.abandon(self._urls, now - self._policy.window_ms)
            await self._store.prune(now - int(self._settings.webhook_retention_hours * 3_600_000), PRUNE_BATCH)
            self._next_upkeep = now + UPKEEP_INTERVAL_MS
        if free := self._settings.webhook_concurrency - len(self._inflight):
            for due in await self._store.claim(self._urls, now, now + self._claim_ms, free):
                task = asyncio.create_task(self._attempt(due))
                self._inflight.add(task)
                task.add_done_callback(self._ended)
        self._metrics.webhook_backlog.set(await self._store.backlog())

    async def settle(self) -> None:
        """Wait for the attempts under way to end."""
        await asyncio.gather(*self._inflight, return_exceptions=True)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._wake.set()
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("recording a webhook attempt failed; it is made again", exc_info=error)

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._settings.webhook_timeout_seconds),
                connector=aiohttp.TCPConnector(limit=self._settings.webhook_concurrency),
                headers={"User-Agent": USER_AGENT},
            )
        return self._http

    async def _attempt(self, due: Due) -> None:
        body = due.body.encode()
        sent_at, started = self._clock.now(), self._clock.monotonic()
        headers = {
            "Content-Type": "application/json",
            HEADER: sign(self._settings.webhook_secret, body, sent_at // 1000),
        }
        status_code = error = None
        try:
            async with self._client().post(due.url, data=body, headers=headers, allow_redirects=False) as response:
                status_code = response.status
        except Exception as failure:  # whatever went wrong, this attempt failed: it is logged and retried
            error = self._describe(failure)
        attempt = Attempt(due.attempts + 1, sent_at, status_code, error, self._clock.monotonic() - started)
        ended = self._clock.now()
        retry_at = None
        if succeeded(status_code):
            status, outcome = DeliveryStatus.DELIVERED, "delivered"
        elif (retry_at := self._policy.next_attempt(due.created_at, ended, attempt.number, self._jitter())) is None:
            status, outcome = DeliveryStatus.FAILED, "failed"
        else:
            status, outcome = DeliveryStatus.PENDING, "retrying"
        if not await self._store.record(due, attempt, status, retry_at or ended):
            return  # recorded already: another instance made this attempt after this one's claim ran out
        self._metrics.webhook_deliveries.labels(outcome).inc()
        answer = f"status {status_code}" if status_code is not None else error
        if outcome == "failed":
            log.warning(
                "webhook %s to %s failed for good after %d attempts: %s",
                due.event_id, _shown(due.url), attempt.number, answer,
            )  # fmt: skip
        elif outcome == "retrying":
            log.info("webhook %s to %s: attempt %d failed (%s)", due.event_id, _shown(due.url), attempt.number, answer)

    def _describe(self, failure: Exception) -> str:
        if isinstance(failure, TimeoutError):
            return f"no answer within {self._settings.webhook_timeout_seconds:g}s"
        return f"{type(failure).__name__}: {failure}"[:MAX_ERROR_LENGTH]


def _shown(url: str) -> str:
    """An endpoint as logs show it: without the user and password it may carry."""
    return str(URL(url).with_user(None))
