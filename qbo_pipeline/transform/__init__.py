"""Pure functions that turn validated canonical rows into QBO payloads following QBO's rules."""
