"""Make the monolith's tables (Django's migrate) and fill them through its ORM, so every hash is
Django's own and every change has its simple-history row. Prints what the test needs to know
(each user's password, which rows are bad on purpose) as one JSON object.

python -m tests.imports.monolith.build CUSTOMERS LOANS   (MONOLITH_DATABASE_URL set)
"""

from __future__ import annotations

import json
import os
import random
import sys
from datetime import UTC, datetime, timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.imports.monolith.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402

from tests.imports.monolith.loan.models import Loan  # noqa: E402
from tests.imports.monolith.user.models import User  # noqa: E402

TIERS = ((2_500_000, 12.0), (1_000_000, 10.0), (10_000, 8.45))


def rate(principal: float) -> float:
    return next((r for low, r in TIERS if principal >= low), 8.45)


def emi(principal: float, annual: float, months: int) -> float:
    """The monolith's own sum, in floats (what it stored)."""
    r = annual / 12 / 100
    growth = (1 + r) ** months
    return principal * r * growth / (growth - 1)


def person(username: str, email: str, **flags: bool) -> User:
    user = User.objects.create_user(
        username, email, f"old-{username}-pw", first_name="Old", last_name=username
    )
    for name, value in flags.items():
        setattr(user, name, value)
    user.save()
    return user


def loan(customer: User, agent: User | None, principal: float, months: int, status: str = "NEW") -> Loan:
    interest = rate(principal)
    monthly = emi(principal, interest, months)
    made = Loan(
        user=customer,
        granted_by=agent,
        principal=principal,
        interest=interest,
        emi=monthly,
        amount=monthly * months,
        months=months,
        status=status,
    )
    made.save()
    return made


def main(customers: int, loans: int) -> None:
    call_command("migrate", verbosity=0)
    rng = random.Random(15)
    admin = person("boss", "boss@monolith.example", is_admin=True, is_staff=True)
    agents = [
        person(f"agent{i}", f"agent{i}@monolith.example", is_agent=True, is_approved=i < 4) for i in range(6)
    ]
    people = [person(f"cust{i}", f"cust{i}@monolith.example", is_customer=True) for i in range(customers)]
    dup = person("dup", "CUST0@monolith.example", is_customer=True)  # cust0's email in another case
    nobody = person("nobody", "nobody@monolith.example")  # no role flag
    start = datetime(2024, 1, 31, 9, 30, tzinfo=UTC)
    made = []
    for i in range(loans):
        principal = rng.choice([10_000.0, 50_000.0, 123_456.785, 1_000_000.0, 2_600_000.5])
        item = loan(people[i % customers], agents[i % 4], principal, rng.choice([1, 12, 60, 480]))
        if i % 3 == 1:  # edited, then approved
            item.principal = principal + 1000
            item.emi = emi(item.principal, item.interest, item.months)
            item.save()
            item.status, item.start_date = "APPROVED", start + timedelta(days=i)
            item.end_date = item.start_date + timedelta(days=30 * item.months)
            item.save()
        elif i % 3 == 2:
            item.status = "REJECTED"
            item.save()
        made.append(item.id)
    bad = {
        "small": loan(people[0], agents[0], 5_000.0, 12).id,
        "status": loan(people[0], agents[0], 20_000.0, 12, status="PENDING").id,
        "not_customer": loan(agents[1], agents[0], 20_000.0, 12).id,
    }
    off = loan(people[1], agents[0], 50_000.0, 12)
    off.emi += 5
    off.save()
    print(
        json.dumps(
            {
                "admin": admin.id,
                "agents": [a.id for a in agents],
                "customers": [p.id for p in people],
                "duplicate": dup.id,
                "no_role": nobody.id,
                "loans": made,
                "bad_loans": bad,
                "emi_off": off.id,
            }
        )
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
