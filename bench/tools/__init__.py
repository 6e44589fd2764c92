"""Set-up helpers that are not part of the benchmark itself."""
