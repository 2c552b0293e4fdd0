"""`logistis-tui`: the terminal app for browsing, filtering, diffing and tailing the history."""
