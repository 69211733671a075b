"""Files and processes of a run: scratch folders, staging and atomic replacement, child
processes that die with the run, signals turned into clean-up."""
