"""A local emulator of the QuickBooks Online v3 API. It imports nothing from the pipeline."""
