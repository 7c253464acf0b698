"""The read stage, and reading ahead in a second process during a long import.

``read_table`` is the ingest's read stage: a document's bytes → its list table.

A backfill or a rebuild ingests hundreds of documents one after another, and a fifth of that
time goes to reading workbooks: work that depends on nothing in the database.  ``ReadAhead``
does it for the next few documents in one child process while this process cleans, checks,
diffs and writes the current one (the machine has two cores).  Cleaning stays here: its cache
of cleaned rows makes it cheaper than shipping cleaned rows back.  The child
runs the very function the ingest would (``read_table``, in one thread)
on the very bytes the ingest is given: the ingest only uses a result whose SHA-256 is that of
its document.

What travels back is small: the documents of a history share almost all their rows, so the
child sends each distinct row once and names rows by number after that (``RowTable``; 1.8 MB
of pickles instead of 27 MB for the 328 shared files), and bytes it has read before are not
read again (a third of the shared files are copies).  Rows that are the same row share their
mappings here, which lets cleaning find them by identity (``diff.normalise.normalise_row``).
Given the ingest's rules marker, the child also computes each table's raw-row hash
(``diff.records.raw_table_hash``), which the ingest would otherwise compute on its own core.

Whatever the child cannot read, or any failure of the child, is left to the ingest, which
reads the document itself and records why it failed: the history never depends on the
read-ahead, only the time does.

This module imports only the readers (not the database), so that the child starts quickly.
"""

from __future__ import annotations

import contextlib
import copyreg
import dataclasses
import datetime as dt
import hashlib
import io
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import IO, Any

from crawler.workbook import UnreadableWorkbook, read_workbook, read_workbook_in_one_thread
from diff.records import RawRow, RawValue, SourceTable, raw_table_hash

log = logging.getLogger(__name__)

# Below this many documents the child's start costs more than it saves.
MIN_DOCUMENTS = 8
DEPTH = 4                      # documents read ahead of the one being ingested


def read_table(content: bytes, media: str, source_url: str | None = None, **caps: int) -> SourceTable:
    """Read: the document's list table.  Raises UnreadableWorkbook when there is none.
    ``caps``: the workbook reader's size caps (``crawler.workbook.read_workbook``)."""
    if media == "html":
        # imported here: the child reads workbooks, and BeautifulSoup is a third of its start-up
        from crawler.html_table import parse_list_tables
        from diff.normalise import ICE_ORIGIN

        tables = parse_list_tables(content, source_url or ICE_ORIGIN + "/")
        if not tables:
            raise UnreadableWorkbook("no_list_table", "the page holds no 287(g) list table")
        return tables[0]
    return read_workbook(content, **caps)


def _read_table_in_one_thread(content: bytes, media: str, source_url: str | None,
                              caps: Mapping[str, int]) -> SourceTable:
    """``read_table``, the workbook read without a worker thread (the same table): in the child,
    the other core is the ingest's, and the thread would only cost CPU time."""
    if media == "html":
        return read_table(content, media, source_url, **caps)
    return read_workbook_in_one_thread(content, **caps)


@dataclass(frozen=True, slots=True)
class ReadDocument:
    """A document read in the child: what the read stage would give for the bytes ``sha256``."""

    sha256: str
    table: SourceTable
    # what the reader logged meanwhile (logger, level, message): logged again here, when the
    # document is ingested, so that it goes where this process's log goes
    logged: tuple[tuple[str, int, str], ...] = ()
    # diff.records.raw_table_hash(table, rules), computed in the child when it was given the
    # rules marker (pipeline.ingest.rules_marker), else None
    raw_hash: str | None = None
    rules: str | None = None


Source = tuple[bytes, str, str | None]     # (content, media, source URL)
# a source, the reader's caps, and the rules marker for the raw-row hash (None: no hash)
Request = tuple[bytes, str, str | None, dict[str, int], str | None]


class _Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


# -- rows sent once ---------------------------------------------------------------------------
#
# The documents of a history share almost all their rows: only the row numbers move.  The child
# sends each distinct row (its cells, links and extra cells) once, numbered in the order sent;
# a reply then names its rows by those numbers, and this process keeps the rows it was sent in
# a ``RowTable``.  Both sides start afresh together when the child sets ``reset`` (the table
# would outgrow ROW_TABLE_LIMIT).  Every reply is decoded, in order, as it arrives, so that the
# two tables never differ, whichever replies the ingest then uses.

ROW_TABLE_LIMIT = 500_000          # distinct rows kept by each side before both start afresh
_SEEN_DOCUMENTS_LIMIT = 2_000_000  # rows named by the replies the child keeps for repeated bytes

_TableHead = tuple[str, tuple[str, ...], tuple[str | None, ...], tuple[str, ...], int, int]
_RowParts = tuple[Mapping[str, RawValue], Mapping[str, str], Mapping[str, RawValue]]


@dataclass(frozen=True, slots=True)
class _Reply:
    """What the child sends for one document (see ``RowTable``)."""

    sha256: str
    head: _TableHead                 # the SourceTable's fields but its rows
    row_numbers: tuple[int, ...]
    row_ids: tuple[int, ...]
    first_new_id: int                # the id of new_rows[0]: the table's length before them
    new_rows: tuple[_RowParts, ...]
    reset: bool = False
    logged: tuple[tuple[str, int, str], ...] = ()
    raw_hash: str | None = None
    rules: str | None = None


# Value types whose equality is their identity for ``repr``: not int, float and bool (``1``,
# ``1.0`` and ``True`` are equal in Python, 0.0 and -0.0 too) nor datetime (its fold).
_PLAIN_VALUES = frozenset({str, type(None), dt.date})


def _row_identity(row: RawRow) -> tuple[Any, ...]:
    """What tells a row apart from another for ``diff.records.raw_table_hash``, its row number
    left out: its mappings' types and items, and for values other than text, dates and blanks,
    their ``repr``."""
    cells, links, extra = row.cells, row.links, row.extra
    identity = (cells.__class__, tuple(cells.items()), links.__class__, tuple(links.items()),
                extra.__class__, tuple(extra.items()))
    if _PLAIN_VALUES.issuperset(map(type, chain(cells.values(), links.values(), extra.values()))):
        return identity
    return repr, identity, repr(identity)


class _RowSender:
    """The child's side: ids of the rows sent, and the replies for bytes already read."""

    def __init__(self, limit: int = ROW_TABLE_LIMIT) -> None:
        self.limit = limit
        self._ids: dict[tuple[Any, ...], int] = {}
        self._documents: dict[Hashable, _Reply] = {}   # what was read and how -> its reply, no new rows
        self._documents_rows = 0

    def repeat(self, read: Hashable) -> _Reply | None:
        """The reply for bytes read before in the same way (``read``: the bytes' hash, the
        caps, the rules; their rows all sent already), or None."""
        earlier = self._documents.get(read)
        if earlier is None:
            return None
        return dataclasses.replace(earlier, first_new_id=len(self._ids))

    def encode(self, sha256: str, table: SourceTable, logged: tuple[tuple[str, int, str], ...],
               raw_hash: str | None = None, rules: str | None = None, *, read: Hashable = None) -> _Reply:
        """The reply for the table; with ``read``, kept for ``repeat``."""
        reset = len(self._ids) + len(table.rows) > self.limit
        if reset:
            self._ids.clear()
            self._documents.clear()
            self._documents_rows = 0
        ids = self._ids
        first_new_id = len(ids)
        new_rows: list[_RowParts] = []
        row_ids = []
        for row in table.rows:
            identity = _row_identity(row)
            row_id = ids.get(identity)
            if row_id is None:
                row_id = ids[identity] = len(ids)
                new_rows.append((row.cells, row.links, row.extra))
            row_ids.append(row_id)
        head = (table.sheet_name, table.header, table.columns, table.sheet_names, table.header_row,
                table.skipped_blank_rows)
        reply = _Reply(sha256, head, tuple(row.row_number for row in table.rows), tuple(row_ids),
                       first_new_id, tuple(new_rows), reset, logged, raw_hash, rules)
        if read is not None:
            if self._documents_rows + len(row_ids) > _SEEN_DOCUMENTS_LIMIT:
                self._documents.clear()
                self._documents_rows = 0
            self._documents[read] = dataclasses.replace(reply, new_rows=(), reset=False)
            self._documents_rows += len(row_ids)
        return reply


class RowTable:
    """This process's side: the rows the child sent, by id.  Rows that share an id share
    their mappings, so that cleaning (``diff.normalise.normalise_row``) sees them as one."""

    def __init__(self) -> None:
        from diff.normalise import share_row  # not in the child, which only reads

        self._share_row = share_row
        self._cells: list[Mapping[str, RawValue]] = []
        self._links: list[Mapping[str, str]] = []
        self._extra: list[Mapping[str, RawValue]] = []

    def decode(self, reply: _Reply) -> ReadDocument:
        """The document the reply stands for.  Raises ValueError when the reply does not follow
        the last one (the two tables would differ)."""
        if reply.reset:
            self.clear()
        if reply.first_new_id != len(self._cells):
            raise ValueError(f"row table out of step: {reply.first_new_id} rows expected, {len(self._cells)} held")
        for cells, links, extra in reply.new_rows:
            self._cells.append(cells)
            self._links.append(links)
            self._extra.append(extra)
            self._share_row(cells, links)
        ids = reply.row_ids
        rows = tuple(map(RawRow, reply.row_numbers, map(self._cells.__getitem__, ids),
                         map(self._links.__getitem__, ids), map(self._extra.__getitem__, ids)))
        sheet_name, header, columns, sheet_names, header_row, skipped = reply.head
        table = SourceTable(sheet_name, header, columns, rows, sheet_names, header_row, skipped)
        return ReadDocument(reply.sha256, table, reply.logged, reply.raw_hash, reply.rules)

    def clear(self) -> None:
        from diff.normalise import forget_shared_rows

        self._cells.clear()
        self._links.clear()
        self._extra.clear()
        forget_shared_rows()


def read_in_child(request: Request, collected: _Collected | None = None,
                  sender: _RowSender | None = None) -> bytes | None:
    """The document read, pickled: a ``_Reply`` for ``sender``'s ``RowTable``, or a
    ``ReadDocument`` without a sender; None when it cannot be read (the ingest then reads it
    and records why).  Runs in the child."""
    content, media, source_url, caps, rules = request
    if collected is not None:
        collected.records.clear()
    sha256 = hashlib.sha256(content).hexdigest()
    how = (sha256, media, source_url, tuple(sorted(caps.items())), rules)
    read: _Reply | ReadDocument | None = sender.repeat(how) if sender is not None else None
    if read is None:
        try:
            table = _read_table_in_one_thread(content, media, source_url, caps)
        except Exception:  # left to the ingest, which reads it again and records why
            return None
        logged = tuple(collected.records) if collected is not None else ()
        # the ingest's own hash of the table (it uses it only with these rules), off its core
        raw_hash = raw_table_hash(table, rules) if rules is not None else None
        read = (sender.encode(sha256, table, logged, raw_hash, rules, read=how) if sender is not None
                else ReadDocument(sha256, table, logged, raw_hash, rules))
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _DISPATCH
    pickler.dump(read)
    return buffer.getvalue()


def _mapping_proxy(items: dict) -> MappingProxyType:
    return MappingProxyType(items)


def _reduce_mapping_proxy(proxy: MappingProxyType) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    # rebuilt as a read-only mapping, as the reader made it: the raw-row fingerprint
    # (diff.records.raw_table_hash) shows a mapping's type, so a plain dict would change it
    return _mapping_proxy, (dict(proxy),)


def _reduce_by_constructor(value: Any) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    # rebuilt by the constructor: a slotted dataclass's own unpickling looks up its fields
    # for every object, and that was most of the cost of the reply
    return type(value), tuple(getattr(value, name) for name in type(value).__slots__)


_DISPATCH = {
    **copyreg.dispatch_table,
    # The reader shares one read-only empty mapping between rows; it travels as a plain dict
    # and is rebuilt read-only.
    MappingProxyType: _reduce_mapping_proxy,
    RawRow: _reduce_by_constructor,
    SourceTable: _reduce_by_constructor,
    ReadDocument: _reduce_by_constructor,
    _Reply: _reduce_by_constructor,
}


# The child is a plain ``python -m pipeline.reading``: no fork of this process (its database
# connections, its threads) and no re-import of the caller's main module, which
# multiprocessing's spawn would do.  Frames on its stdin/stdout: an 8-byte length, then a pickle.

def _write_frame(stream: IO[bytes], payload: bytes) -> None:
    stream.write(len(payload).to_bytes(8, "big"))
    stream.write(payload)
    stream.flush()


def _read_frame(stream: IO[bytes]) -> bytes | None:
    header = stream.read(8)
    if len(header) < 8:
        return None
    size = int.from_bytes(header, "big")
    payload = stream.read(size)
    if len(payload) < size:
        return None
    return payload


def child_main(requests: IO[bytes], replies: IO[bytes]) -> None:
    """The child's loop: one reply (a pickled ``_Reply``, or empty) per request, in order,
    until its stdin ends or nobody reads its replies any more."""
    collected = _Collected()
    logging.basicConfig(level=logging.INFO, handlers=[collected])
    sender = _RowSender()
    try:
        while (frame := _read_frame(requests)) is not None:
            _write_frame(replies, read_in_child(pickle.loads(frame), collected, sender) or b"")
    except BrokenPipeError:    # the parent stopped early (an error, a database fault): done
        pass


class ReadAhead:
    """Reads ``count`` documents in order in one child process, ``depth`` documents ahead of
    the one asked for.  ``load(i)`` gives the i-th document's bytes (called in this process,
    when the document is sent to the child), or None to skip it.  Use as a context manager;
    ``get(i)`` is the i-th document read, or None.

    Until the child's first reply, ``get`` does not wait (unless ``wait_for_start``): the
    child is still starting (a Python process, its imports), and this process reads for itself
    meanwhile."""

    def __init__(self, count: int, load: Callable[[int], Source | None], *, depth: int = DEPTH,
                 wait_for_start: bool = False, caps: Mapping[str, int] | None = None,
                 rules: str | None = None) -> None:
        self.count = count
        self.load = load
        self.depth = depth
        self.wait_for_start = wait_for_start
        self.caps = dict(caps or {})     # the reader's size caps: those the ingest reads with
        self.rules = rules               # the ingest's rules marker: the child hashes each table with it
        self._next = 0
        self._child: subprocess.Popen[bytes] | None = None
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        # shared with the thread that reads the replies, under ``_arrived``
        self._arrived = threading.Condition()
        self._awaited: deque[int] = deque()     # indexes sent, in order, whose reply has not come
        self._replies: dict[int, ReadDocument | None] = {}   # None: the child could not read it
        self._rows = RowTable()                 # the receiving thread's alone
        self._replied = False                   # the child has replied at least once
        self._ended = False                     # the child's replies ended
        if count >= MIN_DOCUMENTS:
            self._start()

    def _start(self) -> None:
        root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        try:
            self._child = subprocess.Popen([sys.executable, "-m", "pipeline.reading"], stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, env=env, cwd=root)
        except OSError as error:
            log.info("reading in this process only: %s", error)
            return
        # Threads write the requests and read the replies: the child may be busy writing a
        # reply while this process would be writing the next request, and pipes hold only
        # so much.
        self._threads = [threading.Thread(target=self._send, args=(self._child.stdin,), daemon=True),
                         threading.Thread(target=self._receive, args=(self._child.stdout,), daemon=True)]
        for thread in self._threads:
            thread.start()

    def _send(self, requests: IO[bytes]) -> None:
        try:
            while (payload := self._outbox.get()) is not None:
                _write_frame(requests, payload)
        except OSError:   # the child is gone: the replies end, and get() stops reading ahead
            pass
        finally:
            with contextlib.suppress(OSError):
                requests.close()

    def _receive(self, replies: IO[bytes]) -> None:
        try:
            while (reply := _read_frame(replies)) is not None:
                # decoded here, each in turn: the row table must follow every reply, including
                # those of documents the ingest will not ask for
                read = self._rows.decode(pickle.loads(reply)) if reply else None
                with self._arrived:
                    self._replies[self._awaited.popleft()] = read
                    self._replied = True
                    self._arrived.notify_all()
        except (OSError, ValueError, EOFError, pickle.UnpicklingError) as error:
            # the pipe closed under us (the child is gone), or a reply out of step: stop here
            log.debug("read-ahead replies ended: %s", error)
        finally:
            with self._arrived:
                self._ended = True
                self._arrived.notify_all()

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        self._outbox.put(None)         # the child's stdin ends: it replies to what it has, and exits
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        for thread in self._threads:
            thread.join(timeout=5)
        if child.stdout is not None:
            child.stdout.close()
        with self._arrived:
            self._replies.clear()
        self._rows.clear()         # the receiving thread has stopped

    def get(self, index: int) -> ReadDocument | None:
        """The ``index``-th document read, or None: not read ahead (too few documents, no
        child, the child still starting), unreadable, or the child failed."""
        if self._child is None:
            return None
        self._send_up_to(index + self.depth)
        with self._arrived:
            for earlier in [i for i in self._replies if i < index]:   # documents not ingested
                del self._replies[earlier]
            if index not in self._replies and not self._replied and not self.wait_for_start:
                return None            # still starting: not worth waiting for
            while index not in self._replies and index in self._awaited and not self._ended:
                self._arrived.wait()
            read = self._replies.pop(index, None)
            ended = self._ended and index in self._awaited
        if ended:
            log.warning("reading ahead stopped: the child process ended (exit status %s)", self._child.poll())
            self.close()
            return None
        if read is None:
            return None
        for name, level, message in read.logged:
            logging.getLogger(name).log(level, "%s", message)
        return read

    def _send_up_to(self, last: int) -> None:
        while self._next <= min(last, self.count - 1):
            source = self.load(self._next)
            if source is not None:
                with self._arrived:
                    self._awaited.append(self._next)
                self._outbox.put(pickle.dumps((*source, self.caps, self.rules), protocol=pickle.HIGHEST_PROTOCOL))
            self._next += 1


if __name__ == "__main__":
    # by its module name, so that what it pickles unpickles as pipeline.reading's classes
    from pipeline.reading import child_main as run_child

    run_child(sys.stdin.buffer, sys.stdout.buffer)
