"""The window: a tile per participant with its name, in a fitted grid; ``s`` toggles a stats overlay."""

from __future__ import annotations

import math
import os
import time
from typing import Any

from hang.errors import MediaError
from hang.watch.participant import Participant

BACKGROUND = (24, 24, 28)
ERROR_TILE = (90, 20, 20)


def grid(count: int, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Tile rectangles (x, y, w, h) for ``count`` participants, as square a grid as fits."""
    if count == 0:
        return []
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    w, h = width // columns, height // rows
    return [((i % columns) * w, (i // columns) * h, w, h) for i in range(count)]


class Window:
    """A pygame window drawing every participant's newest decoded picture."""

    def __init__(self, title: str, size: tuple[int, int] = (1280, 720)) -> None:
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        try:
            import pygame
        except ImportError as exc:
            raise MediaError(f"the window needs pygame: {exc}") from None
        self.pygame = pygame
        try:
            pygame.display.init()
            pygame.font.init()
            self.screen = pygame.display.set_mode(size, pygame.RESIZABLE)
        except pygame.error as exc:
            raise MediaError(f"cannot open a window ({exc}); use --headless or --record") from None
        pygame.display.set_caption(title)
        self.font = pygame.font.Font(None, 24)
        self.show_stats = False
        self.closed = False
        self.frames_drawn = 0

    def handle_events(self) -> None:
        """Keys and window events: ``s`` stats, ``q``/Esc/close quits."""
        pygame = self.pygame
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                self.closed = True
            elif event.type == pygame.KEYDOWN:
                if event.key in (pygame.K_q, pygame.K_ESCAPE):
                    self.closed = True
                elif event.key == pygame.K_s:
                    self.show_stats = not self.show_stats

    def draw(self, participants: list[Participant]) -> None:
        """Redraw every tile."""
        pygame = self.pygame
        screen = self.screen
        screen.fill(BACKGROUND)
        width, height = screen.get_size()
        for participant, (x, y, w, h) in zip(participants, grid(len(participants), width, height), strict=True):
            frame = participant.latest_video
            if participant.error:
                pygame.draw.rect(screen, ERROR_TILE, (x + 2, y + 2, w - 4, h - 4))
                self._text(participant.error[:80], x + 10, y + h // 2)
            elif frame is not None:
                self._blit(frame, x, y, w, h)
            self._text(participant.name, x + 8, y + h - 28)
            if self.show_stats:
                s = participant.stats
                elapsed = max(1e-3, time.monotonic() - s.started)
                line = (f"{s.frames / elapsed:4.1f} fps  {s.bytes * 8 / elapsed / 1000:6.0f} kbit/s  "
                        f"skipped {s.groups_skipped}  errors {s.decode_errors}")
                self._text(line, x + 8, y + 8)
        pygame.display.flip()
        self.frames_drawn += 1

    def _blit(self, frame: Any, x: int, y: int, w: int, h: int) -> None:
        scale = min(w / frame.width, h / frame.height)
        tw, th = max(1, int(frame.width * scale)) & ~1, max(1, int(frame.height * scale)) & ~1
        rgb = frame.reformat(width=tw, height=th, format="rgb24").to_ndarray()
        surface = self.pygame.image.frombuffer(rgb.tobytes(), (tw, th), "RGB")
        self.screen.blit(surface, (x + (w - tw) // 2, y + (h - th) // 2))

    def _text(self, text: str, x: int, y: int) -> None:
        label = self.font.render(text, True, (255, 255, 255), (0, 0, 0))
        self.screen.blit(label, (x, y))

    def screenshot(self, path: str) -> None:
        """Save what the window shows."""
        self.pygame.image.save(self.screen, path)

    def close(self) -> None:
        """Close the window."""
        self.pygame.display.quit()
