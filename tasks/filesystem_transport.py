"""kombu's filesystem transport (the embedded default's broker), publishing each message
atomically.

kombu creates the message file under its final name and then writes it: a consumer polling the
folder can move and read the file in between, find it empty and fail decoding it ("Expecting
value", kombu#1551), which ends the worker. Here the message is written under a name no consumer
picks up (``.writing-<uuid>``) and renamed to its final name, which is atomic within one folder.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem as kombu_filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(kombu_filesystem.Channel):
    def _put(self, queue, payload, **kwargs):  # noqa: ANN001, ANN003, ANN202 - kombu's signature
        """Put ``payload`` onto ``queue``: written aside, then renamed into the queue folder.
        Raises ChannelError when the folder cannot be written."""
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # A name no consumer takes, by kombu's old rule (".<queue>.msg" anywhere) or its new one
        # (ending in it after the first dot).
        partial = os.path.join(self.data_folder_out, f".writing-{uuid.uuid4()}")
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(kombu_filesystem.Transport):
    Channel = Channel
