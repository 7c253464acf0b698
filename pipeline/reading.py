"""The read stage, and reading ahead in a second process during a long import.

``read_table`` is the ingest's read stage: a document's bytes → its list table.

A backfill or a rebuild ingests hundreds of documents one after another, and a fifth of that
time goes to reading workbooks: work that depends on nothing in the database.  ``ReadAhead``
does it for the next few documents in one child process while this process cleans, checks,
diffs and writes the current one (the machine has two cores).  Cleaning stays here: its cache
of cleaned rows makes it cheaper than shipping cleaned rows back.  The child
runs the very function the ingest would (``read_table``)
on the very bytes the ingest is given: the ingest only uses a result whose SHA-256 is that of
its document.  Whatever the child cannot read, or any failure of the child, is left to the
ingest, which reads the document itself and records why it failed: the history never depends
on the read-ahead, only the time does.

This module imports only the readers (not the database), so that the child starts quickly.
"""

from __future__ import annotations

import contextlib
import copyreg
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import IO, Any

from crawler.html_table import parse_list_tables
from crawler.workbook import UnreadableWorkbook, read_workbook
from diff.normalise import ICE_ORIGIN
from diff.records import RawRow, SourceTable, raw_table_hash

log = logging.getLogger(__name__)

# Below this many documents the child's start costs more than it saves.
MIN_DOCUMENTS = 8
DEPTH = 4                      # documents read ahead of the one being ingested


def read_table(content: bytes, media: str, source_url: str | None = None, **caps: int) -> SourceTable:
    """Read: the document's list table.  Raises UnreadableWorkbook when there is none.
    ``caps``: the workbook reader's size caps (``crawler.workbook.read_workbook``)."""
    if media == "html":
        tables = parse_list_tables(content, source_url or ICE_ORIGIN + "/")
        if not tables:
            raise UnreadableWorkbook("no_list_table", "the page holds no 287(g) list table")
        return tables[0]
    return read_workbook(content, **caps)


@dataclass(frozen=True, slots=True)
class ReadDocument:
    """A document read in the child: what the read stage would give for the bytes ``sha256``."""

    sha256: str
    table: SourceTable
    # what the reader logged meanwhile (logger, level, message): logged again here, when the
    # document is ingested, so that it goes where this process's log goes
    logged: tuple[tuple[str, int, str], ...] = ()
    # the table's fingerprint (diff.records.raw_table_hash) with the rules marker it was taken
    # with, when the reader was given one: the ingest uses it only for that very marker
    raw_rules: str | None = None
    raw_hash: str | None = None


Source = tuple[bytes, str, str | None]     # (content, media, source URL)
# a source, the reader's caps, and the rules marker to fingerprint the table with (None: none)
Request = tuple[bytes, str, str | None, dict[str, int], str | None]


class _Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


def read_in_child(request: Request, collected: _Collected | None = None) -> bytes | None:
    """The document read, pickled; None when it cannot be read (the ingest then reads it and
    records why).  Runs in the child."""
    content, media, source_url, caps, raw_rules = request
    if collected is not None:
        collected.records.clear()
    try:
        table = read_table(content, media, source_url, **caps)
    except Exception:  # left to the ingest, which reads it again and records why
        return None
    logged = tuple(collected.records) if collected is not None else ()
    # the fingerprint is taken here, where the time is free (this process waits for the ingest)
    raw_hash = raw_table_hash(table, raw_rules) if raw_rules is not None else None
    read = ReadDocument(hashlib.sha256(content).hexdigest(), table, logged, raw_rules, raw_hash)
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
    """The child's loop: one reply (a pickled ReadDocument, or empty) per request, in order,
    until its stdin ends or nobody reads its replies any more."""
    collected = _Collected()
    logging.basicConfig(level=logging.INFO, handlers=[collected])
    try:
        while (frame := _read_frame(requests)) is not None:
            _write_frame(replies, read_in_child(pickle.loads(frame), collected) or b"")
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
                 raw_rules: str | None = None) -> None:
        self.count = count
        self.load = load
        self.depth = depth
        self.wait_for_start = wait_for_start
        self.caps = dict(caps or {})     # the reader's size caps: those the ingest reads with
        self.raw_rules = raw_rules       # the ingest's rules marker: the child fingerprints each table with it
        self._next = 0
        self._child: subprocess.Popen[bytes] | None = None
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        # shared with the thread that reads the replies, under ``_arrived``
        self._arrived = threading.Condition()
        self._awaited: deque[int] = deque()     # indexes sent, in order, whose reply has not come
        self._replies: dict[int, bytes] = {}
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
                with self._arrived:
                    self._replies[self._awaited.popleft()] = reply
                    self._replied = True
                    self._arrived.notify_all()
        except (OSError, ValueError):   # the pipe closed under us: the child is gone
            pass
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
            reply = self._replies.pop(index, None)
            ended = self._ended and index in self._awaited
        if ended:
            log.warning("reading ahead stopped: the child process ended (exit status %s)", self._child.poll())
            self.close()
            return None
        if not reply:
            return None
        read: ReadDocument = pickle.loads(reply)
        for name, level, message in read.logged:
            logging.getLogger(name).log(level, "%s", message)
        return read

    def _send_up_to(self, last: int) -> None:
        while self._next <= min(last, self.count - 1):
            source = self.load(self._next)
            if source is not None:
                with self._arrived:
                    self._awaited.append(self._next)
                self._outbox.put(pickle.dumps((*source, self.caps, self.raw_rules), protocol=pickle.HIGHEST_PROTOCOL))
            self._next += 1


if __name__ == "__main__":
    # by its module name, so that what it pickles unpickles as pipeline.reading's classes
    from pipeline.reading import child_main as run_child

    run_child(sys.stdin.buffer, sys.stdout.buffer)
