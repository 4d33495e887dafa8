"""Customer features: the offline table, the Feast store, training sets and online lookups."""
