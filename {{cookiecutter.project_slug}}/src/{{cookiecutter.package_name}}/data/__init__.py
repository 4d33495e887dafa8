"""Example data: a deterministic synthetic card-transaction set and the contract it must meet."""
