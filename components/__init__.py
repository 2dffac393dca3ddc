"""The components of staysaga, listed once, and the settings of a process derived from them."""
