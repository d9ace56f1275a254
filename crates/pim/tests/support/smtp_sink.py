#!/usr/bin/env python3
"""A tiny SMTP server for pim's tests (aiosmtpd).

Usage: smtp_sink.py OUT.jsonl [PORT]

Listens on 127.0.0.1 (PORT, or a free port when absent or 0), prints the port on standard output
once it accepts connections, and appends every message it receives to OUT.jsonl as one JSON object
per line: the envelope (mailFrom, rcptTos), the decoded headers (subject, from, to, messageId and
all headers) and the decoded plain-text body. Runs until killed.
"""

import asyncio
import json
import sys
from email import message_from_bytes, policy

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, path):
        self.path = path

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        msg = message_from_bytes(raw, policy=policy.default)
        part = msg.get_body(preferencelist=("plain",)) or msg
        record = {
            "mailFrom": envelope.mail_from,
            "rcptTos": list(envelope.rcpt_tos),
            "subject": str(msg.get("subject", "")),
            "from": str(msg.get("from", "")),
            "to": str(msg.get("to", "")),
            "messageId": str(msg.get("message-id", "")),
            "headers": {k.lower(): str(v) for k, v in msg.items()},
            "body": part.get_content(),
        }
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        return "250 OK"


async def main():
    path = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Sink(path), hostname="localhost"), "127.0.0.1", port)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
