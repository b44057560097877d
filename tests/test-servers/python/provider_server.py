"""A loopback HTTP server standing in for SMS providers in Passcode's delivery tests.

It answers two kinds of request, checking them as the real services would:
  POST /2010-04-01/Accounts/<sid>/Messages.json   a Twilio-compatible Messages API: basic auth
      with the account id and token, a form-encoded To (E.164), From or MessagingServiceSid,
      and Body; answers 201 with a message sid, or the API's JSON error with its code.
  POST /webhook                                    a Standard Webhooks receiver: the signature
      is verified with the reference library (PyPI `standardwebhooks`), not with Passcode's code.

Each endpoint plays a script of answers set by the test (POST /_script {"key": K,
"answers": [...]}; K is the account id or "webhook"); when the script runs out it answers
success. Answers: "201" (or "200"), "500", "429:<seconds>" (with Retry-After), "400:<code>",
"401", "hang:<seconds>" (read the request, then wait that long before answering 201).
GET /_requests lists what was received (form fields, JSON body, whether auth and signature
were right, what was answered). Prints "READY <port>"; stops on stdin EOF or SIGTERM.
"""

import argparse
import base64
import json
import re
import secrets
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from standardwebhooks import Webhook

E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/([A-Za-z0-9]+)/Messages\.json$")


class State:
    def __init__(self, accounts, webhook_secret):
        self.accounts = accounts
        self.webhook = Webhook(webhook_secret) if webhook_secret else None
        self.scripts = {}
        self.requests = []
        self.lock = threading.Lock()

    def next_answer(self, key):
        with self.lock:
            script = self.scripts.get(key, [])
            return script.pop(0) if script else "201"

    def record(self, entry):
        with self.lock:
            self.requests.append(entry)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        # The head and the body are written separately: without this, Nagle's algorithm holds
        # the body until the client's delayed ACK (40 ms per request on Linux).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n)

    def do_GET(self):
        if self.path == "/_requests":
            with self.state.lock:
                self.reply(200, self.state.requests)
        else:
            self.reply(404, {"message": "not found"})

    def play(self, answer, ok_body, entry):
        """Answers per the script; returns nothing. `entry` records what was answered."""
        kind, _, arg = answer.partition(":")
        entry["answer"] = kind
        self.state.record(entry)
        if kind == "hang":
            time.sleep(float(arg))
            kind = "201"
        if kind in ("200", "201"):
            self.reply(int(kind), ok_body)
        elif kind == "500":
            self.reply(500, {"code": 20500, "message": "Internal Server Error", "status": 500})
        elif kind == "429":
            self.reply(429, {"code": 20429, "message": "Too Many Requests", "status": 429}, [("Retry-After", arg)])
        elif kind == "400":
            code = int(arg or "21211")
            to = entry.get("form", {}).get("To", "")
            # Real providers echo the number in the message: the client must not pass it on.
            self.reply(400, {"code": code, "message": "The 'To' number %s is not valid." % to, "status": 400})
        elif kind == "401":
            self.reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
        else:
            self.reply(500, {"message": "bad script answer %r" % answer})

    def do_POST(self):
        body = self.read_body()
        if self.path == "/_script":
            s = json.loads(body)
            with self.state.lock:
                self.state.scripts[s["key"]] = list(s["answers"])
            return self.reply(200, {})
        if self.path == "/_reset":
            with self.state.lock:
                self.state.scripts.clear()
                self.state.requests.clear()
            return self.reply(200, {})
        m = MESSAGES_PATH.match(self.path)
        if m:
            return self.messages(m.group(1), body)
        if self.path == "/webhook":
            return self.webhook(body)
        self.reply(404, {"code": 20404, "message": "not found", "status": 404})

    def messages(self, account, body):
        entry = {"endpoint": "messages", "account": account}
        token = self.state.accounts.get(account)
        expected = "Basic " + base64.b64encode(("%s:%s" % (account, token)).encode()).decode()
        entry["auth_ok"] = token is not None and self.headers.get("Authorization") == expected
        ctype = self.headers.get("Content-Type", "")
        entry["content_type"] = ctype
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        entry["form"] = form
        if not entry["auth_ok"]:
            entry["answer"] = "401"
            self.state.record(entry)
            return self.reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
        problem = None
        if not ctype.startswith("application/x-www-form-urlencoded"):
            problem = (400, 20001, "Content-Type must be form-encoded")
        elif not E164.match(form.get("To", "")):
            problem = (400, 21211, "The 'To' number is not a valid phone number.")
        elif ("From" in form) == ("MessagingServiceSid" in form):
            problem = (400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required.")
        elif not form.get("Body") or len(form["Body"]) > 1600:
            problem = (400, 21602, "Message body is required.")
        if problem:
            entry["answer"] = str(problem[0])
            self.state.record(entry)
            return self.reply(problem[0], {"code": problem[1], "message": problem[2], "status": problem[0]})
        sid = "SM" + secrets.token_hex(16)
        ok = {"sid": sid, "status": "queued", "account_sid": account}
        self.play(self.state.next_answer(account), ok, entry)

    def webhook(self, body):
        entry = {"endpoint": "webhook"}
        headers = {k.lower(): v for k, v in self.headers.items()}
        entry["webhook_id"] = headers.get("webhook-id")
        try:
            payload = self.state.webhook.verify(body, headers)
            entry["verified"] = True
            entry["json"] = payload
        except Exception as e:
            entry["verified"] = False
            entry["error"] = type(e).__name__
            try:
                entry["json"] = json.loads(body)
            except ValueError:
                entry["json"] = None
            self.state.record(entry)
            return self.reply(400, {"message": "bad signature"})
        self.play(self.state.next_answer("webhook"), {"id": "wh_" + secrets.token_hex(8)}, entry)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--account", action="append", default=[], help="SID:TOKEN")
    p.add_argument("--webhook-secret")
    a = p.parse_args()
    accounts = dict(x.split(":", 1) for x in a.account)
    Handler.state = State(accounts, a.webhook_secret)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("READY %d" % server.server_address[1], flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stop.wait()
    server.shutdown()


if __name__ == "__main__":
    main()
