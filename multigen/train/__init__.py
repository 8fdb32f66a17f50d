"""Training: one Trainer for every method, checkpoints, data parallelism, logging."""
