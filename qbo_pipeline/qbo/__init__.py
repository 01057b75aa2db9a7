"""The QuickBooks Online client: OAuth2 and token vault, HTTP transport, faults, rate limits, batches."""
