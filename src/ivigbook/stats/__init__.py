"""Stage 3, stats: the paper's tests, simple regressions, the mixed model, multiple imputation
and matching-adjusted indirect comparison; numbers as papers print them."""
