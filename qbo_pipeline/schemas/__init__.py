"""pandera contracts of the canonical entities, and quarantine of the rows that break them."""
