"""The `radiusd` command line: administration, troubleshooting and the servers."""
