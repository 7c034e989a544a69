"""The simulated staff of the load test (tools/loadtest.py): each a coroutine with a session
of its own, working in one city, 1–3 s between actions. Every write the server acknowledges
is recorded (Stats), for the checks after the run."""

from __future__ import annotations

import asyncio
import random
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loadtest import City, World

PASSWORD = "loadtest-password-1"  # noqa: S105  # nosec B105  # users of a throwaway database
TIMELINE_MARK = "負荷試験の経過"
PAYMENT_MARK = "負荷試験の支払"
SEARCH_WORDS = ["さとう", "すずき", "タナカ", "山本", "こばやし", "ヤマダ", "伊藤"]
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
HEAD = re.compile(r'name="expected_head" value="(\d+)"')


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {message}", file=sys.stderr, flush=True)


# ---- the simulated staff -----------------------------------------------------------------


@dataclass
class Stats:
    times: dict[tuple[str, bool], list[float]] = field(default_factory=lambda: defaultdict(list))
    status: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))
    errors: list[str] = field(default_factory=list)  # 5xx and transport failures
    payments: list[str] = field(default_factory=list)  # notes the server acknowledged
    timeline: list[str] = field(default_factory=list)
    stages: list[tuple[str, str]] = field(default_factory=list)  # (reference, step)
    stale: int = 0  # payment forms refused as stale (409): the check working
    # writes in the importing city refused as busy (503 with Retry-After: the write gave up
    # waiting for the import's locks, nothing saved, the clerk told to send it again)
    busy: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_second: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def record(self, action: str, home: bool, ms: float, status: int) -> None:
        self.times[(action, home)].append(ms)
        self.status[(action, status)] += 1


class ServerError(Exception):
    pass


class ServerBusy(ServerError):
    """A write refused as busy (503, Retry-After): the clerk goes on with other work."""


class Clerk:
    """One member of staff: a session of their own (cookies kept by hand: the session
    cookie is marked Secure, which an http client would not send back on plain http)."""

    def __init__(self, base: str, session, city: City, username: str, manager: bool, home: bool):
        self.base = base
        self.http = session
        self.city = city
        self.username = username
        self.manager = manager
        self.home = home
        self.cookies: dict[str, str] = {}
        self.rng = random.Random(username)  # noqa: S311  # a simulation, not security

    async def request(
        self,
        stats: Stats,
        action: str | None,
        method: str,
        path: str,
        data: dict | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> tuple[int, str, str]:
        """One request, timed under `action` (None: not timed). Returns status, body and
        Location. A 5xx or a failed connection raises ServerError."""
        import aiohttp

        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if method == "POST":
            headers["Referer"] = self.base + path
        started = time.perf_counter()
        try:
            async with self.http.request(
                method, self.base + path, data=data, headers=headers, allow_redirects=False
            ) as response:
                body = await response.text()
                status = response.status
                location = response.headers.get("Location", "")
                for name, morsel in response.cookies.items():
                    self.cookies[name] = morsel.value
        except (aiohttp.ClientError, TimeoutError) as error:
            stats.errors.append(f"{action or method} {type(error).__name__}: {error}")
            raise ServerError from error
        ms = (time.perf_counter() - started) * 1000
        stats.by_second[int(time.monotonic())] += 1
        if action is not None:
            stats.record(action, self.home, ms, status)
        if status == 503 and response.headers.get("Retry-After") and self.home:
            # cases.middleware.BusyDatabaseMiddleware: not a server error, but counted and
            # reported; the checks afterwards confirm nothing of it was saved. Anywhere but
            # the importing city it is an error: nothing there may wait on the import.
            stats.busy[f"{action or method}"] += 1
            raise ServerBusy
        if status >= 500:
            stats.errors.append(f"{action or method} {path.split('?')[0]} answered {status}")
            raise ServerError
        if status not in expect:
            stats.refused[f"{action} answered {status}"] += 1
        return status, body, location

    async def log_in(self, stats: Stats) -> None:
        _s, body, _l = await self.request(stats, None, "GET", "/accounts/login/")
        token = CSRF.search(body).group(1)
        status, _b, _l = await self.request(
            stats,
            "login",
            "POST",
            "/accounts/login/",
            {"csrfmiddlewaretoken": token, "username": self.username, "password": PASSWORD},
            expect=(302,),
        )
        if status != 302:
            raise SystemExit(f"loadtest: {self.username} could not log in ({status})")

    async def follow(self, stats: Stats, location: str) -> str:
        """The page a browser shows after a write (rendered afresh: the write moved the
        city's cache version, and the page carries a message)."""
        _s, body, _l = await self.request(stats, "case_page_after_write", "GET", location)
        return body

    # -- the actions --

    async def case_list(self, stats: Stats) -> None:
        roll = self.rng.random()
        query = ""
        if roll < 0.15:
            query = f"?page={self.rng.randint(2, 5)}"
        elif roll < 0.3:
            query = "?stage=" + self.rng.choice(["inquiry", "agency_contact", "negotiation"])
        await self.request(stats, "case_list", "GET", "/cases/" + query)

    async def search(self, stats: Stats, token: str) -> None:
        # As the filter form posts it: the words go in the body, the list's URL gets a token.
        started = time.perf_counter()
        status, _b, location = await self.request(
            stats,
            None,
            "POST",
            "/cases/",
            {"csrfmiddlewaretoken": token, "q": self.rng.choice(SEARCH_WORDS)},
            expect=(303,),
        )
        if status != 303:
            return
        await self.request(stats, None, "GET", location)
        stats.record("search", self.home, (time.perf_counter() - started) * 1000, 200)

    async def case_page(self, stats: Stats) -> None:
        await self.request(stats, "case_page", "GET", f"/cases/{self.rng.choice(self.city.view)}/")

    async def timeline(self, stats: Stats) -> None:
        ref, _party = self.rng.choice(self.city.editable)
        path = f"/cases/{ref}/timeline/new/"
        _s, body, _l = await self.request(stats, "timeline_form", "GET", path)
        mark = f"{TIMELINE_MARK}-{self.username}-{len(stats.timeline)}-{self.rng.random():.9f}"
        status, _b, location = await self.request(
            stats,
            "timeline_post",
            "POST",
            path,
            {
                "csrfmiddlewaretoken": CSRF.search(body).group(1),
                "occurred_on": date.today().isoformat(),
                "actor": "市",
                "text": mark,
            },
            expect=(302,),
        )
        if status == 302:
            stats.timeline.append(mark)
            await self.follow(stats, location)

    async def payment(self, stats: Stats) -> None:
        # One in five goes to one of the city's three busy cases, where clerks collide.
        pool = self.city.hot if self.rng.random() < 0.2 else self.city.editable
        ref, party = self.rng.choice(pool)
        path = f"/cases/{ref}/ledger/payment/new/"
        mark = f"{PAYMENT_MARK}-{self.username}-{self.rng.random():.12f}"
        for _attempt in range(2):  # a stale form is reloaded and sent again, as a clerk would
            _s, body, _l = await self.request(stats, "payment_form", "GET", path)
            form = {
                "csrfmiddlewaretoken": CSRF.search(body).group(1),
                "expected_head": HEAD.search(body).group(1),
                "party": str(party),
                "amount": str(self.rng.randint(1, 9)),
                "side": self.rng.choice(["municipality", "contractor"]),
                "method": "cash",
                "on": date.today().isoformat(),
                "note": mark,
            }
            # A clerk takes a moment to fill the form in: others may post meanwhile.
            await asyncio.sleep(self.rng.uniform(0.2, 1.0))
            status, _b, location = await self.request(
                stats, "payment_post", "POST", path, form, expect=(302, 409)
            )
            if status == 302:
                stats.payments.append(mark)
                await self.follow(stats, location)
                return
            if status != 409:
                return
            stats.stale += 1

    async def stage(self, stats: Stats) -> None:
        pools = [("refer", self.city.refer), ("negotiate", self.city.negotiate)]
        pools = [(step, pool) for step, pool in pools if pool]
        if not pools:
            return await self.case_page(stats)
        step, pool = self.rng.choice(pools)
        ref = pool.pop()  # no two clerks move the same case
        expected = "inquiry" if step == "refer" else "agency_contact"
        _s, body, _l = await self.request(stats, "case_page", "GET", f"/cases/{ref}/")
        status, _b, location = await self.request(
            stats,
            "stage_post",
            "POST",
            f"/cases/{ref}/stage/{step}/",
            {
                "csrfmiddlewaretoken": CSRF.search(body).group(1),
                "expected_stage": expected,
                "on": date.today().isoformat(),
                "note": "",
            },
            expect=(302,),
        )
        if status == 302:
            page = await self.follow(stats, location)
            if "message success" in page:
                stats.stages.append((ref, step))
            else:
                stats.refused["stage change refused by its guard"] += 1

    async def run(self, stats: Stats, until: float) -> None:
        await asyncio.sleep(self.rng.uniform(0, 3))  # staff do not all start at once
        _s, body, _l = await self.request(stats, "queues", "GET", "/queues/")
        token = CSRF.search(body).group(1)
        actions = [
            ("case_list", 20),
            ("search", 10),
            ("case_page", 30),
            ("queues", 8),
            ("timeline", 10),
            ("payment", 10),
            ("stage", 4),
        ]
        if self.manager:
            actions.append(("dashboard", 25))
        names = [a for a, _w in actions]
        weights = [w for _a, w in actions]
        while time.monotonic() < until:
            await asyncio.sleep(self.rng.uniform(1, 3))
            if time.monotonic() >= until:
                break
            action = self.rng.choices(names, weights)[0]
            try:
                if action == "search":
                    await self.search(stats, token)
                elif action == "dashboard":
                    await self.request(stats, "dashboard", "GET", "/dashboard/")
                elif action == "queues":
                    await self.request(stats, "queues", "GET", "/queues/")
                else:
                    await getattr(self, action)(stats)
            except ServerError:
                await asyncio.sleep(1)


async def drive(args, world: World, stats: Stats, background) -> float:
    import aiohttp

    base = f"http://127.0.0.1:{args.port}"
    timeout = aiohttp.ClientTimeout(total=args.request_timeout)
    connector = aiohttp.TCPConnector(limit=args.users + 10)
    async with aiohttp.ClientSession(
        timeout=timeout, connector=connector, cookie_jar=aiohttp.DummyCookieJar()
    ) as http:
        clerks = [
            Clerk(base, http, city, name, manager, city is world.home)
            for i in range(args.users)
            for city in [world.cities[i % len(world.cities)]]
            for name, manager in [city.users[(i // len(world.cities)) % len(city.users)]]
        ]
        # Log-ins, spread over a few seconds (each hashes a password on purpose: slow).
        log(f"{len(clerks)} clerks log in")
        semaphore = asyncio.Semaphore(4)

        async def log_in(clerk):
            async with semaphore:
                await clerk.log_in(stats)

        await asyncio.gather(*(log_in(c) for c in clerks))
        started = time.monotonic()
        until = started + args.duration
        log(f"load for {args.duration} s; background jobs start in {args.jobs_after} s")
        tasks = [asyncio.create_task(c.run(stats, until)) for c in clerks]
        await asyncio.sleep(min(args.jobs_after, args.duration))
        await asyncio.to_thread(background)
        await asyncio.gather(*tasks)
        return time.monotonic() - started
