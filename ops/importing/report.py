"""The import's report: every row that did not fit, or was changed to fit, with the reason; and
the counts and sums of the source against what the actors hold."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TextIO

SKIPPED = "skipped"  # not sent: the importer's checks refused it
REFUSED = "refused"  # sent, and the actor refused it
NOTE = "note"  # imported, with something worth knowing (an EMI recomputed, a blank name filled)


@dataclass
class Totals:
    """One table's figures: read from the source, to import (source − skipped), and held by the
    actor after the run (inserted now or present from a run before)."""

    read: int = 0
    expected: int = 0
    inserted: int = 0
    present: int = 0
    expected_principal: Decimal = Decimal("0.00")
    imported_principal: Decimal = Decimal("0.00")

    @property
    def imported(self) -> int:
        return self.inserted + self.present


@dataclass
class Report:
    path: Path
    rows: list[tuple[str, int, str, str]] = field(default_factory=list)
    users: Totals = field(default_factory=Totals)
    loans: Totals = field(default_factory=Totals)

    def add(self, table: str, legacy_id: int, outcome: str, reason: str) -> None:
        self.rows.append((table, legacy_id, outcome, reason))

    def count(self, outcome: str) -> int:
        return sum(1 for row in self.rows if row[2] == outcome)

    def write(self) -> None:
        with self.path.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(("table", "legacy_id", "outcome", "reason"))
            writer.writerows(sorted(self.rows))

    def agrees(self, dry_run: bool) -> bool:
        """The actors hold exactly what the source had to give (a dry run checks nothing held)."""
        if dry_run:
            return True
        return (
            self.users.imported == self.users.expected
            and self.loans.imported == self.loans.expected
            and self.loans.imported_principal == self.loans.expected_principal
        )

    def print_summary(self, out: TextIO, dry_run: bool) -> None:
        outcomes = Counter((table, outcome) for table, _, outcome, _ in self.rows)
        print("                 read  to import  inserted   present   imported", file=out)
        for name, totals in (("users", self.users), ("loans", self.loans)):
            print(
                f"{name:<10} {totals.read:>10} {totals.expected:>10} {totals.inserted:>9} "
                f"{totals.present:>9} {totals.imported:>10}",
                file=out,
            )
        print(
            f"loan principal: source {self.loans.expected_principal:,.2f}, "
            f"imported {self.loans.imported_principal:,.2f}",
            file=out,
        )
        for (table, outcome), n in sorted(outcomes.items()):
            print(f"{table} {outcome}: {n}", file=out)
        print(f"report: {self.path} ({len(self.rows)} rows)", file=out)
        if dry_run:
            print("dry run: nothing was sent or written", file=out)
        elif not self.agrees(dry_run):
            print("DISAGREEMENT: the actors do not hold what the source had to give", file=out)
