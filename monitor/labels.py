"""Reading labelled-items CSV files, the format both evaluators take (`rules eval`,
`stories eval`) and `feedback export` writes.

Owns the checks every such file gets, so that a bad one is refused the same way whichever
command reads it: a header with the required columns, no record with more fields than the
header, a non-empty id that no earlier record has. A fault is a `LabelsError` naming the
file, the line a record starts on (a quoted field may span lines) and the column.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.errors import LabelsError


@dataclass(frozen=True, slots=True)
class Record:
    """One record of a labels file, and where it stands."""

    file: str | Path
    line: int
    columns: Mapping[str, int]  # column name -> index
    cells: Sequence[str]

    def has(self, name: str) -> bool:
        return name in self.columns

    def get(self, name: str) -> str:
        """The cell of `name`, or "" where the column or the cell is missing."""
        i = self.columns.get(name)
        return self.cells[i] if i is not None and i < len(self.cells) else ""

    def need(self, name: str) -> str:
        """The cell of `name`, stripped; a `LabelsError` when it is empty."""
        value = self.get(name).strip()
        if not value:
            raise self.error(name, f"empty {name!r}")
        return value

    def error(self, name: str, problem: str) -> LabelsError:
        return LabelsError(self.file, self.line, self.columns[name] + 1, problem)


def records(lines: Iterable[str], file: str | Path, required: Sequence[str]) -> Iterator[Record]:
    """The records of a labels CSV, checked as the module docstring says; blank lines are
    passed over."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise LabelsError(file, 1, None, "empty file: expected a header row")
    columns = {name.strip(): i for i, name in enumerate(header)}
    for name in required:
        if name not in columns:
            have = ", ".join(columns)
            raise LabelsError(file, 1, None, f"missing column {name!r} (the header has: {have})")
    first_line: dict[str, int] = {}
    line = reader.line_num + 1  # where the next record starts
    for cells in reader:
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            raise LabelsError(file, start, len(header) + 1, "more fields than the header")
        record = Record(file, start, columns, cells)
        item_id = record.need("id")
        if item_id in first_line:
            first = first_line[item_id]
            raise record.error("id", f"duplicate id {item_id!r} (first on line {first})")
        first_line[item_id] = start
        yield record
