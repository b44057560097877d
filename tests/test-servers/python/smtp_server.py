"""A loopback SMTP server for Passcode's delivery tests, built on aiosmtpd (Debian's
python3-aiosmtpd). It stands where a real mail relay stands: plain, STARTTLS or implicit TLS,
with AUTH when asked, and it keeps every message it accepts as raw bytes for the test to parse.

Each accepted message is written to DIR as NNNNNN.json (envelope: MAIL FROM, RCPT TO, whether
the session was authenticated and encrypted) and then NNNNNN.eml (the raw message, written
last, so a reader that sees the .eml sees both).

Recipients steer the server, so one server serves every case:
  bounce@...    RCPT refused for good (550 5.1.1)
  busy@...      RCPT refused for now (451 4.3.0) the first time, accepted after
Options: --delay S waits S seconds before answering DATA (a slow relay).
Prints "READY <port>" on stdout once it accepts connections; stops on SIGTERM or stdin EOF.
"""

import argparse
import asyncio
import json
import os
import signal
import socket
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Recorder:
    def __init__(self, directory, delay):
        self.directory = directory
        self.delay = delay
        self.count = 0
        self.busy_seen = set()
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local == "bounce":
            return "550 5.1.1 Recipient unknown"
        if local == "busy" and address not in self.busy_seen:
            self.busy_seen.add(address)
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.count += 1
            base = os.path.join(self.directory, "%06d" % self.count)
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "authenticated": bool(session.authenticated),
            # session.ssl is set by STARTTLS; an implicit-TLS transport carries its own.
            "encrypted": session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
            "peer_port": session.peer[1] if session.peer else None,
        }
        with open(base + ".json.tmp", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".json.tmp", base + ".json")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 Message accepted"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--delay", type=float, default=0.0)
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)

    kwargs = {}
    if a.tls != "none":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
        if a.tls == "starttls":
            kwargs.update(tls_context=ctx, require_starttls=True)
        else:
            kwargs.update(ssl_context=ctx)
    if a.user is not None:

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login == a.user.encode()
                and auth_data.password == a.password.encode()
            )
            return AuthResult(success=ok, handled=False)

        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=a.tls != "none")

    handler = Recorder(a.dir, a.delay)
    last_error = None
    for _ in range(20):
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
        try:
            controller.start()
            break
        except Exception as e:  # the port was taken between probing and binding
            last_error = e
    else:
        sys.exit("smtp_server: cannot start: %r" % (last_error,))

    print("READY %d" % port, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
