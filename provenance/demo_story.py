"""The demo's findings, kept beside its runs so that the UI's first screen can tell the story
without choosing anything: for each generated output, its prompt, its text, its leading source
by the default ranking, that source's share and the longest span they share.

Torch-free: the Overview page reads it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

STORY_FILE = "demo-story.json"


@dataclass(frozen=True)
class StoryItem:
    run_key: str  # the replay whose targets are the outputs
    target_key: str
    kind: str  # what the demo expected: reproduction, partial reproduction, composed
    prompt: str
    text: str
    doc_key: str | None  # the leading document by the default ranking (None: no positive value)
    title: str | None
    source: str | None
    share: float | None  # its specific value over the target's positive total
    span_words: int  # longest run of words the output shares with it
    sentence: str  # the finding in plain words


def write_story(out: Path, items: list[StoryItem]) -> Path:
    """Write the story under `out` atomically (a reader never sees half a file)."""
    path = Path(out) / STORY_FILE
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".story-", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        json.dump([asdict(item) for item in items], file, indent=2, ensure_ascii=False)
    os.replace(temp, path)
    return path


def read_story(out: Path) -> list[StoryItem]:
    """The story the last demo under `out` wrote; empty when there is none."""
    path = Path(out) / STORY_FILE
    if not path.is_file():
        return []
    return [StoryItem(**item) for item in json.loads(path.read_text(encoding="utf-8"))]
