"""pasv: an FTP server, client and diagnostics toolkit."""

__version__ = "0.1.0"
