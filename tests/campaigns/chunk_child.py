"""Run by ``test_chunk_crash`` as a process of its own: refill a campaign, and stop inside the
chunk's transaction, after its link rows and messages are written and before the cursor moves,
until the test kills it.

    python -m tests.campaigns.chunk_child <campaign id> <marker file>

The marker file, written at that point, tells the test the chunk is half done.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

HANG = 300.0


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openesp.settings")
    import django

    django.setup()
    from django.utils import timezone

    from openesp.campaigns import invitations

    campaign_id, marker = int(sys.argv[1]), Path(sys.argv[2])
    queue = invitations.queue_messages

    def queue_and_stop(*args: Any, **kwargs: Any) -> int:
        count = queue(*args, **kwargs)
        # Written whole, then renamed: the test reads it as soon as the name exists (a file
        # written in place was once read empty, between its creation and its write).
        written = marker.with_suffix(".tmp")
        written.write_text(str(count))
        written.rename(marker)
        time.sleep(HANG)  # killed here
        return count

    invitations.queue_messages = queue_and_stop  # type: ignore[assignment]
    invitations.refill(campaign_id, timezone.now())


if __name__ == "__main__":
    main()
