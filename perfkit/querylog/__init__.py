"""Query logs: readers for every supported format, fingerprints, statistics and cache replay."""
