"""Planning (what to do with each record) and executing it against QBO exactly once."""
