"""Demo registry: the 44 markets, stalls shaped like the reported market structures, and a
population of vendors with SHPs, the same for the same seed.

Pasar Legi's blocks carry the kios/los counts reported after its rebuilding (solopos 1165845),
Pasar Jebres its 69 kios, 358 los and 186 pelataran (solopos 991263), Pasar Singosaren its 254
kios (tirto.id); other markets get a layout by class. TNTD values are the illustrative ones of
the domain notes (§7 B), never the law. Names, NIKs and phone numbers are invented.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from retribusi import clock
from retribusi.audit import record_event
from retribusi.auth.models import Role, User
from retribusi.db import transaction
from retribusi.extensions import db
from retribusi.phone import normalise_phone
from vendors.bulk import ids_by_key, insert_rows
from vendors.models import (
    Block,
    Market,
    MarketClass,
    Placement,
    PlacementEvent,
    PlacementStatus,
    Stall,
    StallStatus,
    StallType,
    Vendor,
)
from vendors.nik import Sex, make_nik
from vendors.placements import shp_expiry
from vendors.services import Actor, load_markets, market_list_rows

DEMO_SEED = 44_2026
DEFAULT_DEMO_VENDORS = 5000
DEMO_VENDOR_PHONE = "6281234567890"  # the demo vendor login of retribusi.demo
DEMO_VENDOR_NIK = make_nik("337205", date(1968, 4, 12), Sex.FEMALE, 1)
# Vendors holding a second stall in the same market (family businesses, a kios and a los).
SECOND_STALL_SHARE = Decimal("0.10")
FIRST_START, LAST_START = date(2024, 1, 1), date(2026, 6, 30)

K, L, P = StallType.KIOS, StallType.LOS, StallType.PELATARAN

# (block code, block name, {type: count}) per market.
Layout = list[tuple[str, str, dict[StallType, int]]]

LEGI: Layout = [
    ("A-SB", "Blok A semi-basement", {K: 42, L: 170}),
    ("A-LD", "Blok A lantai dasar", {K: 40, L: 154}),
    ("B-SB", "Blok B semi-basement", {K: 91, L: 686}),
    ("B-LD", "Blok B lantai dasar", {K: 91, L: 602}),
    ("B-ATAP", "Blok B rooftop kuliner", {K: 18, L: 4}),
    ("C-SB", "Blok C semi-basement", {K: 14, L: 148}),
    ("C-LD", "Blok C lantai dasar", {K: 14, L: 148}),
    ("D-SB", "Blok D semi-basement", {K: 3, L: 84}),
    ("D-LD", "Blok D lantai dasar", {K: 3, L: 104}),
    ("PLT", "Pelataran (oprokan)", {P: 40}),
]
SPECIAL: dict[str, Layout] = {
    "LEGI": LEGI,
    "JEBRES": [
        ("A", "Blok A kios", {K: 69}), ("B", "Blok B los", {L: 358}), ("C", "Pelataran", {P: 186}),
    ],
    "SINGOSAREN": [("A", "Blok A", {K: 127}), ("B", "Blok B", {K: 127})],
    "KLEWER": [(code, f"Blok {code}", {K: 150}) for code in ("A", "B", "C", "D")],
    "KADIPOLO": [("A", "Blok A kios", {K: 44}), ("B", "Blok B los", {L: 60})],
}  # fmt: skip
BY_CLASS: dict[MarketClass, Layout] = {
    MarketClass.IA: [("A", "Blok A", {K: 120, L: 200}), ("B", "Blok B", {K: 80, L: 200})],
    MarketClass.IB: [
        ("A", "Blok A", {K: 40, L: 60}),
        ("B", "Blok B", {K: 30, L: 80}),
        ("C", "Pelataran", {P: 40}),
    ],
    MarketClass.IIA: [("A", "Blok A", {K: 30, L: 50}), ("B", "Blok B", {L: 60, P: 20})],
    MarketClass.IIB: [("A", "Blok A", {K: 20, L: 40}), ("B", "Blok B", {L: 30, P: 15})],
    MarketClass.IIIA: [("A", "Blok A", {K: 10, L: 40, P: 10})],
    MarketClass.IIIB: [("A", "Blok A", {K: 5, L: 20, P: 10})],
}
# Illustrative TNTD per m² (domain notes §7 B); Pasar Besi's reported Rp80/m²/day implies ~80 000.
TNTD: dict[MarketClass, dict[StallType, int]] = {
    MarketClass.IA: {K: 950_000, L: 600_000},
    MarketClass.IB: {K: 800_000, L: 500_000},
    MarketClass.IIA: {K: 700_000, L: 450_000},
    MarketClass.IIB: {K: 600_000, L: 400_000},
    MarketClass.IIIA: {K: 300_000, L: 200_000},
    MarketClass.IIIB: {K: 100_000, L: 80_000},
}
TNTD_BY_MARKET = {"BESI": {K: 80_000, L: 80_000}}
AREAS_M2: dict[StallType, tuple[list[str], list[int]]] = {
    K: (["4", "5", "6", "9", "12"], [15, 45, 20, 15, 5]),
    L: (["2.25", "2", "3", "4"], [35, 25, 25, 15]),
    P: (["1", "1.5", "2", "3"], [30, 30, 30, 10]),
}
PREFIX = {K: "K", L: "L", P: "P"}

FEMALE = (
    "Sri", "Lestari", "Wahyuni", "Suparmi", "Sumiyati", "Tumini", "Painem", "Sukarni", "Ngatini",
    "Parinah", "Rubiyem", "Sulastri", "Endang", "Yuliani", "Siti", "Aminah", "Dewi", "Retno",
    "Sumarni", "Wartini", "Giyem", "Jumiyem", "Rukmini", "Tri", "Rahayu", "Budi", "Astuti",
    "Murni", "Kasmini", "Purwanti", "Harjanti", "Suwarni", "Tugiyem", "Mulyani",
)  # fmt: skip
MALE = (
    "Slamet", "Sugeng", "Bambang", "Joko", "Suparno", "Mulyono", "Sutrisno", "Wagiman", "Paijo",
    "Ngadiman", "Sukiman", "Hartono", "Budi", "Agus", "Teguh", "Waluyo", "Sarno", "Suyatno",
    "Widodo", "Purnomo", "Harjo", "Sutarno", "Marjuki", "Suroto", "Wiryo", "Darmo", "Tukiman",
    "Supardi", "Gunawan", "Haryanto", "Sunarto", "Prawiro",
)  # fmt: skip
FAMILY = (
    "Santoso", "Wibowo", "Susanto", "Pranoto", "Hadi", "Saputro", "Setiawan", "Prasetyo", "Kusuma",
    "Nugroho", "Wijaya", "Utomo", "Raharjo", "Darmawan", "Handoyo", "Purwanto", "Suryadi",
    "Hartanto", "Winarno", "Sutanto",
)  # fmt: skip
# Where vendors' NIKs were issued: mostly Surakarta (3372, districts 01–05), then neighbours.
REGIONS = [("3372", 5, 80), ("3311", 12, 8), ("3313", 17, 5), ("3309", 19, 4), ("3310", 26, 3)]
MOBILE_PREFIXES = (
    "811", "812", "813", "821", "822", "823", "852", "853", "814", "815", "816", "855", "856",
    "857", "858", "817", "818", "819", "859", "877", "878", "881", "882", "895", "896", "897",
    "898",
)  # fmt: skip


@dataclass
class StallSpec:
    market_id: int
    market_code: str
    block_key: tuple[int, str]
    number: str
    stall_type: StallType
    area_m2: Decimal
    tntd: int | None
    status: StallStatus


@dataclass
class Person:
    nik: str
    name: str
    phone: str
    proxy_name: str | None
    proxy_phone: str | None
    user_id: int | None = None


def demo_step() -> dict[str, Any]:
    """Load the markets and, into an empty registry, the demo population. Safe to run again."""
    actor = Actor.system("demo")
    load_markets(actor)
    has_stalls = db.session.scalar(select(Stall.id).limit(1)) is not None
    demo_vendor = db.session.scalar(select(Vendor).where(Vendor.phone == DEMO_VENDOR_PHONE))
    if not has_stalls and demo_vendor is None:
        vendors = int(current_app.config.get("VENDORS_DEMO_VENDORS", DEFAULT_DEMO_VENDORS))
        _load_population(vendors, seed=int(current_app.config.get("VENDORS_DEMO_SEED", DEMO_SEED)))
    elif demo_vendor is None:
        _add_demo_vendor(actor)
    return {"registry": _counts()}


# Sri Rahayu's stalls: (market, block, number, type, area m², TNTD per m²).
DEMO_STALLS = (
    ("KLEWER", "A", "001", "kios", "5", 950_000),
    ("LEGI", "B-LD", "L012", "los", "3", 600_000),
)


def _add_demo_vendor(actor: Actor) -> None:
    """The registry already had stalls (an import came first): add only the demo vendor, on her
    stalls where they are free, through the ordinary services."""
    from vendors.placements import issue_placement
    from vendors.services import VendorInput, create_stall, create_vendor, stall_by_reference

    user_id = db.session.scalar(
        select(User.id).where(User.phone == DEMO_VENDOR_PHONE, User.role == Role.VENDOR)
    )
    if user_id is None or db.session.scalar(select(Vendor.id).where(Vendor.nik == DEMO_VENDOR_NIK)):
        return
    sri = create_vendor(
        VendorInput(DEMO_VENDOR_NIK, "Sri Rahayu (Demo)", DEMO_VENDOR_PHONE), actor=actor
    )
    for market, block, number, kind, area, tntd in DEMO_STALLS:
        stall = stall_by_reference(f"{market}-{block}-{number}") or create_stall(
            market_code=market,
            block_code=block,
            number=number,
            stall_type=kind,
            area_m2=area,
            tntd_idr_per_m2=tntd,
            actor=actor,
        )
        if stall.status in {StallStatus.ACTIVE, StallStatus.VACANT} and not any(
            p.status is PlacementStatus.ACTIVE
            for p in db.session.scalars(select(Placement).where(Placement.stall_id == stall.id))
        ):
            issue_placement(
                vendor_id=sri.id, stall_id=stall.id, start_on=date(2025, 1, 6), actor=actor
            )


def _counts() -> dict[str, int]:
    def count(model: type[Any]) -> int:
        return int(db.session.scalar(select(func.count()).select_from(model)) or 0)

    active = db.session.scalar(
        select(func.count())
        .select_from(Placement)
        .where(Placement.status == PlacementStatus.ACTIVE)
    )
    return {
        "markets": count(Market),
        "stalls": count(Stall),
        "vendors": count(Vendor),
        "active_placements": int(active or 0),
    }


def _layout(code: str, market_class: MarketClass) -> Layout:
    return SPECIAL.get(code, BY_CLASS[market_class])


def _stall_specs(
    rng: random.Random, markets: dict[str, int]
) -> tuple[dict[tuple[int, str], str], list[StallSpec]]:
    blocks: dict[tuple[int, str], str] = {}
    specs: list[StallSpec] = []
    for row in market_list_rows():
        market_class = MarketClass(row.market_class)
        market_id = markets[row.code]
        for block_code, block_name, counts in _layout(row.code, market_class):
            blocks[(market_id, block_code)] = block_name
            for stall_type, count in counts.items():
                for n in range(1, count + 1):
                    specs.append(
                        _stall(rng, row.code, market_id, market_class, block_code, stall_type, n)
                    )
    return blocks, specs


def _stall(
    rng: random.Random,
    market_code: str,
    market_id: int,
    market_class: MarketClass,
    block_code: str,
    stall_type: StallType,
    n: int,
) -> StallSpec:
    areas, weights = AREAS_M2[stall_type]
    area = Decimal(rng.choices(areas, weights)[0])
    if market_code == "KLEWER":
        area = Decimal(5)  # 2.5 × 2 m, the size in the reported Rp158 000 bill
    tntd = TNTD_BY_MARKET.get(market_code, TNTD[market_class]).get(stall_type)
    if tntd is not None and rng.random() < 0.05:
        tntd = None  # not yet assessed
    # Klewer's kios are numbered per block (KLEWER-A-012), elsewhere K/L/P by type.
    number = f"{n:03d}" if market_code == "KLEWER" else f"{PREFIX[stall_type]}{n:03d}"
    status = StallStatus.ACTIVE if stall_type is P else StallStatus.VACANT
    return StallSpec(
        market_id, market_code, (market_id, block_code), number, stall_type, area, tntd, status
    )


class _People:
    """Unique, structurally valid NIKs and phone numbers."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.niks: set[str] = {DEMO_VENDOR_NIK}
        self.phones: set[str] = {DEMO_VENDOR_PHONE}

    def phone(self) -> str:
        while True:
            digits = "".join(self.rng.choices("0123456789", k=self.rng.choice((7, 8))))
            phone = normalise_phone(f"0{self.rng.choice(MOBILE_PREFIXES)}{digits}")
            if phone not in self.phones:
                self.phones.add(phone)
                return phone

    def person(self) -> Person:
        rng = self.rng
        sex = Sex.FEMALE if rng.random() < 0.62 else Sex.MALE  # most market traders are women
        given = rng.choice(FEMALE if sex is Sex.FEMALE else MALE)
        name = given if rng.random() < 0.35 else f"{given} {rng.choice(FAMILY)}"
        regency, districts, _ = rng.choices(REGIONS, [r[2] for r in REGIONS])[0]
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 50))
        while True:
            nik = make_nik(
                f"{regency}{rng.randint(1, districts):02d}", born, sex, rng.randint(1, 9999)
            )
            if nik not in self.niks:
                self.niks.add(nik)
                break
        proxy_name = proxy_phone = None
        if born.year < 1965 and rng.random() < 0.4:  # elderly vendors: a child pays
            proxy_name = f"{rng.choice(FEMALE + MALE)} ({name.split()[0]})"
            proxy_phone = self.phone()
        return Person(nik, name, self.phone(), proxy_name, proxy_phone)


def _load_population(vendor_count: int, *, seed: int) -> None:
    rng = random.Random(seed)
    now = clock.now()
    markets: dict[str, int] = dict(db.session.execute(select(Market.code, Market.id)).all())
    block_names, specs = _stall_specs(rng, markets)
    people = _People(rng)
    demo_user = db.session.scalar(
        select(User.id).where(User.phone == DEMO_VENDOR_PHONE, User.role == Role.VENDOR)
    )
    sri = Person(DEMO_VENDOR_NIK, "Sri Rahayu (Demo)", DEMO_VENDOR_PHONE, None, None, demo_user)
    # Sri holds a Klewer kios of 5 m² and a Pasar Legi los: later packages bill and pay them.
    sri_stalls = [
        next(s for s in specs if s.market_code == "KLEWER" and s.number == "001"),
        next(s for s in specs if s.block_key[1] == "B-LD" and s.number == "L012"),
    ]
    for spec in sri_stalls:
        spec.tntd = TNTD[MarketClass.IA][spec.stall_type]
    sri_stalls[1].area_m2 = Decimal(3)
    holdings = _assign(rng, specs, sri_stalls, people, vendor_count)
    for spec in specs:
        if spec.status is StallStatus.VACANT and rng.random() < 0.02:
            spec.status = rng.choice((StallStatus.DAMAGED, StallStatus.CLOSED))
    persons = [sri, *{id(p): p for p, _ in holdings}.values()]
    with transaction(db.session):
        block_ids = _insert_blocks(block_names)
        stall_ids = _insert_stalls(specs, block_ids, now)
        vendor_ids = _insert_vendors(persons, now)
        placements = [(sri, s) for s in sri_stalls] + [h for h in holdings if h[0] is not sri]
        _insert_placements(rng, placements, stall_ids, vendor_ids, now)
        record_event(
            db.session,
            actor="demo",
            action="vendors.demo_loaded",
            subject_type="registry",
            subject_id="demo",
            details={"seed": seed, "vendors": len(persons), "stalls": len(specs)},
        )


def _assign(
    rng: random.Random,
    specs: list[StallSpec],
    reserved: list[StallSpec],
    people: _People,
    vendor_count: int,
) -> list[tuple[Person, StallSpec]]:
    """Give each vendor a kios or los; some hold a second one in the same market."""
    free = [s for s in specs if s.stall_type is not P and s not in reserved]
    rng.shuffle(free)
    firsts = free[: max(0, vendor_count - 1)]
    holdings = [(people.person(), spec) for spec in firsts]
    by_market: dict[str, list[Person]] = {}
    for person, spec in holdings:
        by_market.setdefault(spec.market_code, []).append(person)
    seconds = int(len(holdings) * SECOND_STALL_SHARE)
    for spec in free[len(firsts) : len(firsts) + seconds]:
        neighbours = by_market.get(spec.market_code)
        if neighbours:
            holdings.append((rng.choice(neighbours), spec))
    for _, spec in holdings:
        spec.status = StallStatus.ACTIVE
    for spec in reserved:
        spec.status = StallStatus.ACTIVE
    return holdings


def _insert_blocks(names: dict[tuple[int, str], str]) -> dict[tuple[Any, ...], int]:
    insert_rows(Block, [{"market_id": m, "code": c, "name": n} for (m, c), n in names.items()])
    return ids_by_key(Block.id, [Block.market_id, Block.code], names)


def _insert_stalls(
    specs: list[StallSpec], block_ids: dict[tuple[Any, ...], int], now: Any
) -> dict[int, int]:
    rows = [
        {
            "market_id": s.market_id,
            "block_id": block_ids[s.block_key],
            "number": s.number,
            "stall_type": s.stall_type,
            "area_m2": s.area_m2,
            "tntd_idr_per_m2": s.tntd,
            "status": s.status,
            "created_at": now,
        }
        for s in specs
    ]
    insert_rows(Stall, rows)
    ids = ids_by_key(
        Stall.id, [Stall.block_id, Stall.number], [(r["block_id"], r["number"]) for r in rows]
    )
    return {
        id(spec): ids[(row["block_id"], row["number"])]
        for spec, row in zip(specs, rows, strict=True)
    }


def _insert_vendors(persons: list[Person], now: Any) -> dict[str, int]:
    rows = [
        {
            "nik": p.nik,
            "full_name": p.name,
            "phone": p.phone,
            "proxy_name": p.proxy_name,
            "proxy_phone": p.proxy_phone,
            "user_id": p.user_id,
            "created_at": now,
        }
        for p in persons
    ]
    insert_rows(Vendor, rows)
    ids = ids_by_key(Vendor.id, [Vendor.nik], [(p.nik,) for p in persons])
    return {nik: id_ for (nik,), id_ in ids.items()}


def _insert_placements(
    rng: random.Random,
    holdings: list[tuple[Person, StallSpec]],
    stall_ids: dict[int, int],
    vendor_ids: dict[str, int],
    now: Any,
) -> None:
    span = (LAST_START - FIRST_START).days
    sequence: dict[tuple[str, int], int] = {}
    rows = []
    for person, spec in holdings:
        start = FIRST_START + timedelta(days=rng.randrange(span))
        if person.phone == DEMO_VENDOR_PHONE:
            start = date(2025, 1, 6)
        key = (spec.market_code, start.year)
        sequence[key] = sequence.get(key, 0) + 1
        rows.append(
            {
                "number": f"SHP/{spec.market_code}/{start.year}/{sequence[key]:05d}",
                "vendor_id": vendor_ids[person.nik],
                "stall_id": stall_ids[id(spec)],
                "start_on": start,
                "expires_on": shp_expiry(start),
                "ended_on": None,
                "status": PlacementStatus.ACTIVE,
                "occupant_name": None,
                "transfer_fee_idr": None,
                "previous_id": None,
                "created_at": now,
            }
        )
    insert_rows(Placement, rows)
    ids = ids_by_key(Placement.id, [Placement.number], [(r["number"],) for r in rows])
    insert_rows(
        PlacementEvent,
        [
            {
                "placement_id": ids[(row["number"],)],
                "occurred_at": now,
                "effective_on": row["start_on"],
                "action": "issued",
                "actor": "demo",
                "details": {"expires_on": row["expires_on"].isoformat(), "source": "demo"},
            }
            for row in rows
        ],
    )
