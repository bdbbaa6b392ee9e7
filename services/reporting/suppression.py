"""Small-cell suppression for indicator tables read by roles without record access.

Handbook domain.md 6.4: donors and integrators see counts, never records, so a
count of a few people must not be published, nor be recoverable from what is.

A table is a count cross-tabulated over 0 to 3 dimensions and published with
all its margins: ``cells`` holds every key in the product of each dimension's
categories plus ``ALL``. A *line* is the cells that vary along one dimension
with the others fixed (categories or ``ALL``), plus the line's margin, which is
their sum.

Rules, in order:

1. Primary: a count with ``0 < n < threshold`` is suppressed. A zero is
   published: it is not small, and it is never chosen as a complement because
   hiding it protects nothing (every line total around it stays the same).
2. Lines: a line holding exactly one suppressed cell gives it away by
   subtraction, so another cell of the line is suppressed. The cheapest
   non-zero candidate wins: interior cells before margins (a margin only when
   the line has nothing else, e.g. a primary cell whose neighbours are all
   zero), then the candidate that opens the fewest untouched lines (each such
   line would need a complement of its own), then the smallest count. This
   repeats until no line has exactly one suppressed cell.
3. Audit, exact: with the published values known and the suppressed ones
   unknown, every line gives one linear equation. A suppressed cell is
   determined iff its unit vector lies in the row space of the equations
   restricted to the suppressed columns, i.e. iff the reduced row echelon
   form (exact integer elimination, rows divided by their gcd) has a row
   whose only non-zero entry is in that cell's column. This catches what
   line-by-line subtraction misses, such as a cell that is a bridge between
   two otherwise protected cycles of a 2-D table.
4. Audit, bounds: zeros are published, so an attacker who knows these rules
   knows every suppressed cell is at least 1. Propagating ``1 <= x`` through
   the line equations (interval propagation to a fixpoint, capped at
   ``_MAX_BOUND_UPDATES`` tightenings) pins cells that linear algebra leaves
   free: the "single count" leak, where the suppressed cells of a line add
   up to no more than their number (two suppressed 1s next to a published
   50, under a published 52, are both 1), and its spread through chains of
   lines. A cell whose interval shrinks to one value (or to none, see
   non-additive tables below) is exposed.
5. For each exposed cell, the cheapest candidate (rule 2's order) among the
   lines through it is suppressed, or the cheapest cell anywhere if those lines
   have none left, and everything from rule 2 runs again. It ends: every round
   suppresses a cell, and once every non-zero cell is suppressed the equations
   are homogeneous, so doubling every count is another solution and no cell is
   determined or pinned.
6. Pruning: greedy choices can overshoot, so once the pattern is safe each
   complement (margins and large counts first) is released again if every
   check above still passes without it. Primary cells are never released.
   The number of full audits spent here is capped, which bounds the cost on
   big tables at the price of a less tight pattern.

Cost grows with the number of suppressed cells (one exact elimination per
round): milliseconds for a 3-D table of a few hundred cells, seconds for a
4-D table of 1,600.

Not covered, by design or cost:

- Integer and linear-programming bounds beyond line-wise propagation: a
  suppressed cell is never pinned to one value, but it may be boxed into a
  narrow interval (a 3 shown to lie in [1, 4]); no protection interval is
  required.
- Knowledge of the algorithm beyond "suppressed means non-zero": complements
  are the cheapest candidates, so a published neighbour of a complement is
  usually at least as large as it.
- Group attribute disclosure: a published line whose margin equals one of its
  cells (the rest zero) says everyone in the group shares that category (all
  12 women at a site are in IASC layer 4). Nothing is small, nothing is
  suppressed; publish a coarser table when that matters.
- Several tables over the same people (other dimensions, other periods,
  cumulative versus monthly figures) are protected one by one; differences
  between them are not audited.
- Shares and means: see ``suppress_rate``; one derived from a suppressed cell
  must be suppressed too.

Non-additive tables (people by IASC layer, where one person may be counted in
several layers, so a margin is at most the sum of its line): the caller passes
the true margins and the table is treated as if additive, which plans the
protection against equalities, the stronger relations. An attacker of such a
table only has inequalities (largest cell <= margin <= sum), which along a
line say less. The line rule does not look at values, so every touched line
still ends with two or more suppressed cells; the audits solve equations that
do not hold, and an empty interval counts as exposed, so they err towards
suppressing more. This is an argument, not a proof for every table.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

ALL = "*"

Key = tuple[str, ...]

_MAX_BOUND_UPDATES = 200_000
_MAX_PRUNE_AUDITS = 32


@dataclass(frozen=True)
class _Line:
    interior: tuple[int, ...]
    margin: int

    @property
    def members(self) -> tuple[int, ...]:
        return (*self.interior, self.margin)


@dataclass(frozen=True)
class _Table:
    keys: tuple[Key, ...]
    counts: tuple[int, ...]
    levels: tuple[int, ...]
    lines: tuple[_Line, ...]
    lines_of: tuple[tuple[int, ...], ...]


def suppress(cells: Mapping[Key, int], dims: Sequence[str], threshold: int) -> set[Key]:
    """Keys to blank so no count below ``threshold`` is shown or recoverable.

    ``cells`` must hold every key of the table, margins included (``ALL`` in
    a margin's position); the module docstring lists the rules and the leaks
    they close.
    """
    table = _build_table(cells, dims)
    suppressed = {i for i, n in enumerate(table.counts) if 0 < n < threshold}
    if not suppressed:
        return set()
    while True:
        _protect_lines(table, suppressed)
        exposed = _determined(table, suppressed) | _pinned(table, suppressed)
        if not exposed or not _protect_exposed(table, suppressed, exposed):
            break
    if not _exposed(table, suppressed):
        _prune(table, suppressed, threshold)
    return {table.keys[i] for i in suppressed}


def suppress_rate(numerator: int, denominator: int, threshold: int) -> bool:
    """Whether a share or mean must be blanked: it would reveal a small count.

    A share (or a mean, whose denominator is the number of people) is
    suppressed when its numerator is small and non-zero or its denominator is
    below ``threshold``. The caller also suppresses it when either count is
    suppressed in a published table. For shares the complement
    ``denominator - numerator`` is a count too (98% of 100 means 2 people
    without); it is not checked here.
    """
    if numerator < 0 or denominator < 0:
        raise ValueError("counts cannot be negative")
    return 0 < numerator < threshold or denominator < threshold


def _build_table(cells: Mapping[Key, int], dims: Sequence[str]) -> _Table:
    width = len(dims)
    categories: list[set[str]] = [set() for _ in range(width)]
    for key, count in cells.items():
        if len(key) != width:
            raise ValueError(f"key {key!r} does not have one value per dimension")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count for {key!r} is not a non-negative integer")
        for axis, value in enumerate(key):
            if not isinstance(value, str):
                raise ValueError(f"key {key!r} holds a non-string value")
            if value != ALL:
                categories[axis].add(value)
    axes = [[*sorted(values), ALL] for values in categories]
    keys = tuple(itertools.product(*axes))
    missing = [key for key in keys if key not in cells]
    if missing:
        raise ValueError(f"table is not published with all margins: {missing[:5]}")
    index = {key: i for i, key in enumerate(keys)}

    lines: list[_Line] = []
    for axis in range(width):
        values = axes[axis][:-1]
        if not values:
            continue
        fixed = [[ALL] if other == axis else axes[other] for other in range(width)]
        for margin in itertools.product(*fixed):
            interior = tuple(
                index[(*margin[:axis], value, *margin[axis + 1 :])] for value in values
            )
            lines.append(_Line(interior, index[margin]))

    lines_of: list[list[int]] = [[] for _ in keys]
    for line_id, line in enumerate(lines):
        for member in line.members:
            lines_of[member].append(line_id)
    return _Table(
        keys=keys,
        counts=tuple(cells[key] for key in keys),
        levels=tuple(key.count(ALL) for key in keys),
        lines=tuple(lines),
        lines_of=tuple(tuple(ids) for ids in lines_of),
    )


def _cheapest(
    table: _Table, suppressed: set[int], candidates: Iterable[int]
) -> int | None:
    def cost(cell: int) -> tuple[int, int, int, int]:
        untouched = sum(
            1
            for line_id in table.lines_of[cell]
            if suppressed.isdisjoint(table.lines[line_id].members)
        )
        return (table.levels[cell], untouched, table.counts[cell], cell)

    eligible = [c for c in candidates if c not in suppressed and table.counts[c] > 0]
    return min(eligible, key=cost, default=None)


def _protect_lines(table: _Table, suppressed: set[int]) -> None:
    changed = True
    while changed:
        changed = False
        for line in table.lines:
            if not _lone(line, suppressed):
                continue
            choice = _cheapest(table, suppressed, line.members)
            if choice is not None:
                suppressed.add(choice)
                changed = True


def _protect_exposed(table: _Table, suppressed: set[int], exposed: set[int]) -> bool:
    touched: set[int] = set()
    added = False
    for cell in sorted(exposed):
        if not touched.isdisjoint(table.lines_of[cell]):
            continue
        neighbours = {
            member
            for line_id in table.lines_of[cell]
            for member in table.lines[line_id].members
        }
        choice = _cheapest(table, suppressed, neighbours)
        if choice is None:
            choice = _cheapest(table, suppressed, range(len(table.keys)))
        if choice is None:
            break
        suppressed.add(choice)
        touched.update(table.lines_of[choice])
        added = True
    return added


def _exposed(table: _Table, suppressed: set[int]) -> bool:
    return (
        any(_lone(line, suppressed) for line in table.lines)
        or bool(_pinned(table, suppressed))
        or bool(_determined(table, suppressed))
    )


def _lone(line: _Line, suppressed: set[int]) -> bool:
    return sum(1 for member in line.members if member in suppressed) == 1


def _prune(table: _Table, suppressed: set[int], threshold: int) -> None:
    complements = [i for i in suppressed if table.counts[i] >= threshold]
    complements.sort(key=lambda i: (table.levels[i], table.counts[i], i), reverse=True)
    audits = 0
    for cell in complements:
        if audits == _MAX_PRUNE_AUDITS:
            break
        suppressed.discard(cell)
        if any(
            _lone(table.lines[line_id], suppressed) for line_id in table.lines_of[cell]
        ):
            suppressed.add(cell)
            continue
        audits += 1
        if _pinned(table, suppressed) or _determined(table, suppressed):
            suppressed.add(cell)


def _determined(table: _Table, suppressed: set[int]) -> set[int]:
    pivots: dict[int, dict[int, int]] = {}
    for line in table.lines:
        row = {i: 1 for i in line.interior if i in suppressed}
        if line.margin in suppressed:
            row[line.margin] = -1
        for lead in [cell for cell in row if cell in pivots]:
            if lead in row:
                row = _eliminate(row, lead, pivots[lead])
        if not row:
            continue
        lead = min(row, key=lambda cell: (len(table.lines_of[cell]), cell))
        if row[lead] < 0:
            row = {cell: -value for cell, value in row.items()}
        for other_lead, other in pivots.items():
            if lead in other:
                pivots[other_lead] = _eliminate(other, lead, row)
        pivots[lead] = row
    return {lead for lead, row in pivots.items() if len(row) == 1}


def _eliminate(row: dict[int, int], lead: int, pivot: dict[int, int]) -> dict[int, int]:
    """``pivot[lead] * row - row[lead] * pivot``, divided by its gcd: exact, in ints."""
    scale, factor = pivot[lead], row[lead]
    combined = {cell: scale * value for cell, value in row.items()}
    for cell, value in pivot.items():
        combined[cell] = combined.get(cell, 0) - factor * value
    combined = {cell: value for cell, value in combined.items() if value}
    divisor = math.gcd(*combined.values()) if combined else 1
    return {cell: value // divisor for cell, value in combined.items()}


def _pinned(table: _Table, suppressed: set[int]) -> set[int]:
    lo: dict[int, float] = dict.fromkeys(suppressed, 1)
    hi: dict[int, float] = dict.fromkeys(suppressed, math.inf)
    equations: list[tuple[list[tuple[int, int]], int]] = []
    for line in table.lines:
        terms = [(i, 1) for i in line.interior] + [(line.margin, -1)]
        unknown = [(i, sign) for i, sign in terms if i in suppressed]
        if unknown:
            known = sum(
                sign * table.counts[i] for i, sign in terms if i not in suppressed
            )
            equations.append((unknown, -known))
    equations_of: dict[int, list[int]] = {i: [] for i in suppressed}
    for eq_id, (unknown, _) in enumerate(equations):
        for i, _sign in unknown:
            equations_of[i].append(eq_id)

    queue = deque(range(len(equations)))
    queued = set(queue)
    updates = 0
    while queue and updates < _MAX_BOUND_UPDATES:
        eq_id = queue.popleft()
        queued.discard(eq_id)
        unknown, constant = equations[eq_id]
        for i, sign in unknown:
            rest_min = sum(lo[j] if s > 0 else -hi[j] for j, s in unknown if j != i)
            rest_max = sum(hi[j] if s > 0 else -lo[j] for j, s in unknown if j != i)
            low, high = constant - rest_max, constant - rest_min
            if sign < 0:
                low, high = -high, -low
            if low > lo[i] or high < hi[i]:
                lo[i], hi[i] = max(lo[i], low), min(hi[i], high)
                if lo[i] > hi[i]:
                    return {j for j in suppressed if lo[j] >= hi[j]}
                updates += 1
                for other in equations_of[i]:
                    if other not in queued:
                        queue.append(other)
                        queued.add(other)
    return {i for i in suppressed if lo[i] >= hi[i]}
