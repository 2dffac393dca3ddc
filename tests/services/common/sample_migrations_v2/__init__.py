"""The same service a release later: a new column with a default."""
