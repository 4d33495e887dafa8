"""Data quality and drift (Evidently): the gate before training and the watch after serving."""
