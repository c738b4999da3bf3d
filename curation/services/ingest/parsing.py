"""Reading a manifest into chunks of checked rows: in this process (`chunks_read`), or in a
forked one while this process stores what it sent (`ChildParser`, the ingest command's way)."""

import multiprocessing
import os
import signal
from collections.abc import Iterator

from django.db import connections

from curation.errors import ManifestError
from curation.models import Dataset
from curation.services.ingest.manifests import RowError
from curation.services.ingest.rows import RowReader, RowRejected
from curation.sql.ingest import Draft, copy_line

# A chunk of a manifest: rows read, their problems, the drafts of the good ones, their COPY lines
# (None: made by the writer side) and the manifest bytes read (0: reported as they were read).
Chunk = tuple[int, list[RowError], list[Draft], dict[int, str] | None, int]


def chunks_read(rows, reader: RowReader, batch_size: int) -> Iterator[Chunk]:
    read, errors, batch = 0, [], []
    try:
        for number, record in rows:
            read += 1
            if isinstance(record, RowError):
                errors.append(record)
            else:
                try:
                    batch.append(reader.read(number, record))
                except RowRejected as exc:
                    item = str(record.get("id") or record.get("video") or "")[:80]
                    errors.append(RowError(number, exc.field, exc.reason, item))
            if len(batch) >= batch_size:
                yield read, errors, batch, None, 0
                read, errors, batch = 0, [], []
    except Exception:
        # The manifest failed midway: the rows read so far and their problems are still reported
        # (the good rows of this unfinished batch are not stored, as a failed batch never is).
        yield read, errors, [], None, 0
        raise
    yield read, errors, batch, None, 0


_INHERITED: list = []  # in the parsing process: the parent's database connections, left untouched


class ChildParser:
    """Reads and checks the manifest in a forked process while this one stores what it sent.

    Parsing is Python (≈ 70 % of an ingest's CPU) and so is the writer: in one process they share
    the GIL, and the parser was the critical path (bench/README.md). The child inherits the open
    manifest and the reader (os.fork; not multiprocessing, whose after-fork hooks let libraries
    such as kombu talk over the connections the parent holds) and never uses the database
    connections it inherited. Datasets that create topics while reading (open-world) parse in
    this process. A pipe carries the chunks; when it is full the child waits, so it runs at most
    a few batches ahead."""

    @staticmethod
    def usable(dataset: Dataset) -> bool:
        return not dataset.open_world_topics and hasattr(os, "fork")

    def __init__(self, rows, reader: RowReader, batch_size: int, reporting: list):
        self.inbox, outbox = multiprocessing.Pipe(duplex=False)
        self.pid = os.fork()
        if self.pid == 0:  # the child: parse, send, and leave without any clean-up of the parent's
            code = 1
            try:
                self.inbox.close()
                self._run(outbox, rows, reader, batch_size, reporting)
                code = 0
            finally:
                os._exit(code)
        outbox.close()

    @staticmethod
    def _run(outbox, rows, reader: RowReader, batch_size: int, reporting: list) -> None:
        # The parent's database sessions stay the parent's: were the child to query by mistake, it
        # opens its own. The inherited ones are kept referenced, not freed (freeing one sends the
        # server a Terminate on the parent's socket); os._exit at the end frees nothing.
        for alias in connections.all(initialized_only=True):
            _INHERITED.append(alias.connection)
            alias.connection = None
        done = [0]
        reporting[0] = lambda n: done.__setitem__(0, done[0] + n)
        try:
            for read, errors, batch, _, _ in chunks_read(rows, reader, batch_size):
                lines = {d.row: copy_line(d) for d in batch}
                outbox.send(("chunk", (read, errors, batch, lines, done[0])))
                done[0] = 0
            outbox.send(("end", None))
        except BaseException as exc:  # noqa: BLE001 (every failure goes to the parent)
            error = exc if isinstance(exc, ManifestError) else ManifestError(f"reading the manifest: {exc!r}")
            outbox.send(("error", error))

    def chunks(self) -> Iterator[Chunk]:
        while True:
            try:
                kind, payload = self.inbox.recv()
            except EOFError:
                raise ManifestError("the process reading the manifest ended unexpectedly") from None
            if kind == "end":
                return
            if kind == "error":
                raise payload
            yield payload

    def stop(self) -> None:
        """End the child (at once if it is still reading: this run failed) and reap it."""
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        self.inbox.close()
