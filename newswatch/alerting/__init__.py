"""E-mail alerts: rules (YAML -> ES queries), exactly-once ledger, digests."""
