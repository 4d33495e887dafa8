"""Online serving: the champion model and the customer's Feast features behind an HTTP API."""
