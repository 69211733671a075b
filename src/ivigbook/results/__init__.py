"""Stage 4, results: what chapters write to. The one formatter, the recorder (every number
stored once and glued through a callable it is given) and the table model."""
