"""Run pyftpdlib's FTPServer with its default FTPHandler, tuned as a fair user would.

With --tls-port, a second listener in the same process (same event loop) serves
TLS_FTPHandler for the FTPS measures, so the plain measures keep the plain handler.
"""

from __future__ import annotations

import argparse
import logging

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
from pyftpdlib.log import config_logging
from pyftpdlib.servers import FTPServer


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--passive-ports", required=True, help="LOW-HIGH")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--log-level", default="WARNING")
    p.add_argument("--tls-port", type=int, default=0, help="also serve FTPS here")
    p.add_argument("--certfile", help="PEM certificate for --tls-port")
    p.add_argument("--keyfile", help="PEM key for --tls-port")
    a = p.parse_args()
    low, high = (int(x) for x in a.passive_ports.split("-"))
    config_logging(level=getattr(logging, a.log_level))
    authorizer = DummyAuthorizer()
    authorizer.add_user("bench", "benchpw", a.dir, perm="elradfmwMT")
    handler = FTPHandler
    handler.authorizer = authorizer
    handler.passive_ports = list(range(low, high + 1))
    handler.banner = "pyftpdlib bench server ready."
    handler.use_sendfile = True
    server = FTPServer(("127.0.0.1", a.port), handler, backlog=1024)
    server.max_cons = 0
    server.max_cons_per_ip = 0
    if a.tls_port:
        tls = TLS_FTPHandler
        tls.authorizer = authorizer
        tls.passive_ports = handler.passive_ports
        tls.banner = "pyftpdlib bench FTPS server ready."
        tls.certfile, tls.keyfile = a.certfile, a.keyfile
        secure = FTPServer(("127.0.0.1", a.tls_port), tls, backlog=1024)  # same IOLoop
        secure.max_cons = 0
        secure.max_cons_per_ip = 0
    print(f"listening on 127.0.0.1:{a.port}", flush=True)
    server.serve_forever(worker_processes=a.workers)


if __name__ == "__main__":
    main()
