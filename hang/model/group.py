"""Groups: an ordered run of frames that a subscriber can start decoding from."""

from __future__ import annotations

import time
from dataclasses import dataclass

from hang.errors import HangError
from hang.model.notify import Notify


@dataclass(frozen=True)
class Frame:
    """One frame: its payload and a timestamp in the track's timescale (0 where unknown)."""

    payload: bytes
    timestamp: int = 0


class GroupAborted(HangError):
    """The group was abandoned before it finished; ``code`` is the moq-lite error code."""

    def __init__(self, code: int) -> None:
        super().__init__(f"group aborted (code {code})")
        self.code = code


class GroupProducer:
    """The writing side of a group; frames are kept so that every consumer reads them all."""

    def __init__(self, sequence: int) -> None:
        self.sequence = sequence
        #: Monotonic time the group was created, to tell how far behind a reader is.
        self.created = time.monotonic()
        self.frames: list[Frame] = []
        self.size = 0
        self.done = False
        self.error: int | None = None
        self._notify = Notify()

    def write_frame(self, payload: bytes, timestamp: int = 0) -> None:
        """Append a frame; a finished or aborted group ignores writes."""
        if self.done:
            return
        self.frames.append(Frame(payload, timestamp))
        self.size += len(payload)
        self._notify.notify()

    def finish(self) -> None:
        """No more frames: consumers end cleanly after the last one."""
        if not self.done:
            self.done = True
            self._notify.notify()

    def abort(self, code: int) -> None:
        """Abandon the group: consumers raise :class:`GroupAborted`."""
        if not self.done:
            self.done = True
            self.error = code
            self._notify.notify()

    def consume(self) -> GroupConsumer:
        """A reader starting at the first frame."""
        return GroupConsumer(self)

    async def wait_change(self) -> None:
        """Wait until a frame is written or the group ends."""
        await self._notify.wait()


class GroupConsumer:
    """Reads a group's frames in order, from the first."""

    def __init__(self, producer: GroupProducer) -> None:
        self._producer = producer
        self._index = 0
        self.sequence = producer.sequence

    async def read_frame(self) -> Frame | None:
        """Next frame, or None at the end; raises :class:`GroupAborted` if the group was abandoned."""
        producer = self._producer
        while True:
            if producer.error is not None:
                raise GroupAborted(producer.error)
            if self._index < len(producer.frames):
                frame = producer.frames[self._index]
                self._index += 1
                return frame
            if producer.done:
                return None
            await producer.wait_change()

    async def read_all(self) -> list[Frame]:
        """Every frame until the group ends."""
        frames = []
        while (frame := await self.read_frame()) is not None:
            frames.append(frame)
        return frames
