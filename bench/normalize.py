"""Benchmark: identity normalization + hashing, trackside vs Meta's SDK (facebook-business).

    python bench/normalize.py [--events 10000] [--repeats 7] [--seed 20261122]

Builds a fixed, seeded mix of realistic purchase events (every identity field set, half the
phones in national format, eight countries, accents and punctuation in names, several date
formats) and normalizes + hashes the same mix with both libraries, repeating the two sides
interleaved and reporting medians. Each side starts from the same raw dicts and ends with
Meta's ``user_data``:

- trackside: ``trackside.events.User(**raw)`` then ``normalize_user(...)``;
- SDK: ``UserData(...)`` inside ``Event(...)``, then ``Event.normalize()``. The SDK raises on
  inputs it refuses (country names, some phones); those events are caught and counted.

Per-value caches that would let a repeated run replay the previous one (phones, IPs) are
cleared before every trackside run; the small country/state caches are meant to stay warm.
Results go in docs/benchmarks.md ("Normalization").
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import statistics
import string
import sys
import time
from typing import Any

from trackside.events import User
from trackside.identity import normalize_user
from trackside.identity.network import normalize_ip
from trackside.identity.phone import _normalize_phone

COUNTRIES = {
    # region: (country spellings, national phone maker, intl prefix, zip maker, cities, states)
    "fr": (["FR", "FR", "FR", "France"], lambda r: "06 " + _groups(r, 4, 2), "+33 6 ",
           lambda r: f"{r.randint(1, 95):02d}{r.randint(0, 999):03d}",
           ["Paris", "Saint-Étienne", "Lyon", "Marseille", "L'Haÿ-les-Roses"],
           ["Île-de-France", "Loire", "Rhône"]),
    "de": (["DE", "DE", "DE", "Deutschland"], lambda r: "0171 " + _digits(r, 7), "+49 171 ",
           lambda r: f"{r.randint(10000, 99999)}",
           ["Berlin", "München", "Frankfurt am Main", "Köln"], ["Bayern", "Berlin", "Hessen"]),
    "gb": (["GB", "GB", "GB", "United Kingdom"], lambda r: "07911 " + _digits(r, 6),
           "+44 7911 ", lambda r: r.choice(["SW1A 1AA", "M1 1AE", "EC1A 1BB", "B33 8TH"]),
           ["London", "Manchester", "St. Albans"], ["England", "Scotland"]),
    "es": (["ES", "ES", "ES", "España"], lambda r: "612 " + _groups(r, 3, 2), "+34 612 ",
           lambda r: f"{r.randint(1000, 52999):05d}", ["Madrid", "A Coruña", "Málaga"],
           ["Madrid", "Andalucía"]),
    "it": (["IT", "IT", "IT", "Italia"], lambda r: "345 " + _digits(r, 7), "+39 345 ",
           lambda r: f"{r.randint(10, 98999):05d}", ["Roma", "Milano", "Reggio nell'Emilia"],
           ["RM", "MI", "Lombardia"]),
    "us": (["US", "US", "US", "United States"], lambda r: f"(650) 555-{_digits(r, 4)}",
           "+1 650 555 ", lambda r: r.choice([f"{r.randint(10000, 99999)}",
                                               f"{r.randint(10000, 99999)}-{_digits(r, 4)}"]),
           ["New York", "San Francisco", "St. Louis"], ["CA", "New York", "Texas"]),
    "be": (["BE", "BE", "BE", "Belgique"], lambda r: "0470 " + _groups(r, 3, 2), "+32 470 ",
           lambda r: f"{r.randint(1000, 9999)}", ["Bruxelles", "Liège", "Gent"],
           ["Bruxelles", "Wallonie"]),
    "nl": (["NL", "NL", "NL", "Nederland"], lambda r: "06-" + _digits(r, 8), "+31 6 ",
           lambda r: f"{r.randint(1000, 9999)} {r.choice(['AB', 'XY', 'KL'])}",
           ["Amsterdam", "'s-Hertogenbosch", "Den Haag"], ["Noord-Holland", "Utrecht"]),
}  # fmt: skip
FIRST = ["Jean-Luc", "Valéry", "Mary", "José", "Zoë", "François", "Anne-Marie", "Jürgen",
         "Łukasz", "Siobhán", "Chloé", "Ana", "John", "Giulia", "Sofía", "Noël"]  # fmt: skip
LAST = ["O'Brien", "Müller", "García", "Smith", "Dupont-Moretti", "Rossi", "van der Berg",
        "Nuñez", "Lefèvre", "D'Angelo", "Kowalski", "Øster"]  # fmt: skip
GENDERS = [("f", "f"), ("F", "f"), ("female", "f"), ("m", "m"), ("M", "m"), ("male", "m")]


def _digits(r: random.Random, n: int) -> str:
    return "".join(r.choice(string.digits) for _ in range(n))


def _groups(r: random.Random, groups: int, size: int) -> str:
    return " ".join(_digits(r, size) for _ in range(groups))


def build_mix(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` raw identity dicts with trackside's User field names."""
    r = random.Random(seed)
    regions = list(COUNTRIES)
    mix = []
    for i in range(count):
        region = r.choice(regions)
        spellings, national, intl, zip_maker, cities, states = COUNTRIES[region]
        first, last = r.choice(FIRST), r.choice(LAST)
        phone = national(r) if i % 2 == 0 else intl + _digits(r, 6 if region != "us" else 4)
        year, month, day = r.randint(1940, 2005), r.randint(1, 12), r.randint(1, 28)
        born = r.choice([f"{year}-{month:02d}-{day:02d}", f"{day:02d}/{month:02d}/{year}",
                         f"{year}{month:02d}{day:02d}"])  # fmt: skip
        gender_raw, gender = r.choice(GENDERS)
        mix.append({
            "email": f" {first.split('-')[0]}.{last.replace(' ', '')}{i}@Example.com ",
            "phone": phone,
            "first_name": first,
            "last_name": last,
            "date_of_birth": born,
            "gender": gender_raw,
            "_gender": gender,  # what an SDK user would turn into Gender.FEMALE/MALE
            "city": r.choice(cities),
            "state": r.choice(states),
            "zip": zip_maker(r),
            "country": r.choice(spellings),
            "external_id": f"cust-{r.randint(1, 10**9)}",
            "ip": ".".join(str(r.randint(low, high))
                          for low, high in ((1, 223), (0, 255), (0, 255), (1, 254))),
            "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/131.0 Safari/537.36",
            "fbp": f"fb.1.{1795000000000 + i}.{r.randint(0, 2**31 - 1)}",
            "fbc": f"fb.1.{1795000000000 + i}.IwAR{_digits(r, 10)}-x_Y",
        })  # fmt: skip
    return mix


def run_trackside(mix: list[dict[str, Any]]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) for the whole mix."""
    _normalize_phone.cache_clear()
    normalize_ip.cache_clear()
    fields = [{k: v for k, v in raw.items() if not k.startswith("_")} for raw in mix]
    started, cpu = time.perf_counter(), time.process_time()
    for raw in fields:
        normalize_user(User(**raw), now_ms=1795000000000)
    return time.perf_counter() - started, time.process_time() - cpu


def run_sdk(mix: list[dict[str, Any]]) -> tuple[float, float, int]:
    from facebook_business.adobjects.serverside.action_source import ActionSource
    from facebook_business.adobjects.serverside.event import Event
    from facebook_business.adobjects.serverside.gender import Gender
    from facebook_business.adobjects.serverside.user_data import UserData

    genders = {"f": Gender.FEMALE, "m": Gender.MALE}
    refused = 0
    started, cpu = time.perf_counter(), time.process_time()
    for raw in mix:
        try:
            user_data = UserData(
                emails=[raw["email"]],
                phones=[raw["phone"]],
                first_names=[raw["first_name"]],
                last_names=[raw["last_name"]],
                dates_of_birth=[raw["date_of_birth"]],
                genders=[genders[raw["_gender"]]],
                cities=[raw["city"]],
                states=[raw["state"]],
                zip_codes=[raw["zip"]],
                country_codes=[raw["country"]],
                external_ids=[raw["external_id"]],
                client_ip_address=raw["ip"],
                client_user_agent=raw["user_agent"],
                fbp=raw["fbp"],
                fbc=raw["fbc"],
            )
            event = Event(
                event_name="Purchase",
                event_time=1795000000,
                user_data=user_data,
                action_source=ActionSource.WEBSITE,
                event_source_url="https://shop.example/order-confirmation",
            )
            event.normalize()
        except (TypeError, ValueError):
            refused += 1
    return time.perf_counter() - started, time.process_time() - cpu, refused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args()

    mix = build_mix(args.events, args.seed)
    # Warm-up: imports, lazily built tables (country names), regex compilation.
    run_trackside(mix[:200])
    run_sdk(mix[:200])

    ours: list[float] = []
    theirs: list[float] = []
    ours_cpu: list[float] = []
    theirs_cpu: list[float] = []
    refused = 0
    gc.collect()
    for _ in range(args.repeats):
        seconds, cpu = run_trackside(mix)
        ours.append(seconds)
        ours_cpu.append(cpu)
        seconds, cpu, refused = run_sdk(mix)
        theirs.append(seconds)
        theirs_cpu.append(cpu)
    ours_rate = args.events / statistics.median(ours)
    sdk_rate = args.events / statistics.median(theirs)
    # CPU time as well: on a shared machine it varies far less than the wall-clock rates.
    ours_us = statistics.median(ours_cpu) / args.events * 1e6
    sdk_us = statistics.median(theirs_cpu) / args.events * 1e6

    import facebook_business
    import phonenumbers

    print(f"python {platform.python_version()} on {platform.machine()}, "
          f"facebook-business {facebook_business.__version__}, "
          f"phonenumbers {phonenumbers.__version__}")  # fmt: skip
    print(f"events: {args.events}, repeats: {args.repeats} (interleaved), seed: {args.seed}")
    print(f"trackside  normalize_user: {ours_rate:10,.0f} events/s  (median of "
          f"{', '.join(f'{args.events / s:,.0f}' for s in ours)})")
    print(f"SDK  Event.normalize():    {sdk_rate:10,.0f} events/s  (median of "
          f"{', '.join(f'{args.events / s:,.0f}' for s in theirs)})")
    print(f"SDK refused (raised):      {refused} of {args.events} events")
    print(f"ratio trackside / SDK:     {ours_rate / sdk_rate:.2f}x")
    print(f"CPU per event (median):    trackside {ours_us:.1f} µs, SDK {sdk_us:.1f} µs, "
          f"ratio {sdk_us / ours_us:.2f}x")  # fmt: skip
    sys.stdout.flush()


if __name__ == "__main__":
    main()
