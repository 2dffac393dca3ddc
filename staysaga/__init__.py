"""The `staysaga` command: run the stack, seed data, serve one component, and more."""
