"""Stage 1, data: the input contract (schema), analysis parameters, reading, validating and
templating cohort packages, and the typed cohort."""
