"""The simulated bank: a stand-in for the third-party acquirer, with its own ledger."""
