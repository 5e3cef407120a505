"""`pasv pcap`: FTP sessions and their files rebuilt from a packet capture."""
