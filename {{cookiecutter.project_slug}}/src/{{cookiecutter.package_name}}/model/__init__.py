"""The model as plain functions: train, evaluate, judge against the champion, and the registry."""
