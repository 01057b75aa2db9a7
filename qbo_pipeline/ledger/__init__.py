"""The sync ledger: links between source rows and QBO records, outbox, runs, reports, tokens."""
