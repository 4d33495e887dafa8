"""Release evidence: what data, code, features and environment produced a model."""
