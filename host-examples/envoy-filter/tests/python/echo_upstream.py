"""A protected application as many are run: Python's http.server (what WSGI development
servers build on), answering each request with the headers it parsed, as JSON.

Its header parser (the email package) takes a bare CR for a line break, as CGI/WSGI stacks
do in places; this is the upstream the gateway's header checks protect. Listens on
127.0.0.1 on a free port, prints the port on the first line of stdout, and keeps every
request's headers for `GET /__seen` (asked directly, not through the gateway).
`GET /slow` answers after one second (for the graceful-shutdown test).
"""
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

seen = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        if self.path == "/__seen":
            body = json.dumps(seen).encode()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            if self.path == "/slow":
                time.sleep(1)
            record = {
                "path": self.path,
                "method": self.command,
                "names": [name for name in self.headers.keys()],
                "subjects": self.headers.get_all("X-Passcode-Subject") or [],
                "forwarded_for": self.headers.get("X-Forwarded-For"),
            }
            seen.append(record)
            body = json.dumps(record).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = answer
    do_POST = answer

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
