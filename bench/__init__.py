"""Benchmark harness comparing pasv with pyftpdlib, vsftpd and the raw loopback limit."""
