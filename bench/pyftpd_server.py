"""Run pyftpdlib's FTPServer with its default FTPHandler, tuned as a fair user would."""

from __future__ import annotations

import argparse
import logging

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.log import config_logging
from pyftpdlib.servers import FTPServer


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--passive-ports", required=True, help="LOW-HIGH")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--log-level", default="WARNING")
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
    print(f"listening on 127.0.0.1:{a.port}", flush=True)
    server.serve_forever(worker_processes=a.workers)


if __name__ == "__main__":
    main()
