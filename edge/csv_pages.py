"""A keyset-paged subject answered as one CSV download, streamed page by page.

The actor pages (`after` → `data`, `next`); the edge only asks for the next page while the client
reads the last, so a portfolio of a million accounts never sits in the edge's memory. The first
page is asked for before the answer starts, so a refusal (401, 403, 503) is still the error
envelope with its status. A failure later cannot change a status already sent: the stream stops
and the connection closes without the closing chunk, which a client sees as a broken download,
never as a complete but short file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Mapping
from typing import Any

import msgspec

from edge.context import Edge
from edge.endpoint import Endpoint
from edge.forward import call

CSV = "text/csv"


class _Page(msgspec.Struct):
    # Rows as the actor wrote them: money stays the string it sent (exact, two decimals).
    data: list[dict[str, Any]]
    next: str | None = None


_decode_page = msgspec.json.Decoder(_Page).decode


async def csv_pages(
    edge: Edge, ep: Endpoint, headers: Mapping[str, str], page_size: int
) -> AsyncIterator[bytes]:
    """The CSV of every row `ep` pages through: a header row (the row Struct's fields), then one
    chunk per page. The caller's token must be verified already."""
    columns = _columns(ep)
    first = await _page(edge, ep, headers, None, page_size)  # before the answer starts: errors still show

    async def chunks() -> AsyncIterator[bytes]:
        page = first
        yield _rows([columns])
        while True:
            if page.data:
                yield _rows([[_cell(row.get(name)) for name in columns] for row in page.data])
            if page.next is None:
                return
            page = await _page(edge, ep, headers, page.next, page_size)

    return chunks()


async def _page(edge: Edge, ep: Endpoint, headers: Mapping[str, str], after: str | None, limit: int) -> _Page:
    query = {"limit": str(limit)} | ({"after": after} if after is not None else {})
    return _decode_page(await call(edge, ep, headers, ep.payload({}, query, b"")))


def _columns(ep: Endpoint) -> list[str]:
    """The fields of the reply's row Struct (`data: list[Row]`), in their declared order."""
    row_type = msgspec.inspect.type_info(ep.reply)
    assert isinstance(row_type, msgspec.inspect.StructType)
    data = next(f.type for f in row_type.fields if f.name == "data")
    assert isinstance(data, msgspec.inspect.ListType) and isinstance(
        data.item_type, msgspec.inspect.StructType
    )
    return [f.name for f in data.item_type.fields]


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _rows(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)  # RFC 4180 line ends
    return out.getvalue().encode()
