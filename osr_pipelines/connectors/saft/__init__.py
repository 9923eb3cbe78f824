"""SAF-T Financial files: the Norwegian audit file every bookkeeping system exports, read as a connection."""
