"""A local mail catcher for the demo: an aiosmtpd server on loopback that saves what it receives as .eml."""
from __future__ import annotations

import socket
from pathlib import Path


class MailCatcher:
    def __init__(self, outbox: Path):
        from aiosmtpd.controller import Controller

        self.outbox = Path(outbox)
        self.outbox.mkdir(parents=True, exist_ok=True)
        self.saved: list[Path] = []
        catcher = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                path = catcher.outbox / f"{len(catcher.saved) + 1:03d}-{session.peer[1]}.eml"
                path.write_bytes(envelope.content)
                catcher.saved.append(path)
                return "250 saved"

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()
