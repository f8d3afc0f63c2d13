"""Trainers: the shared loop (data, losses, checkpoints, metrics, DDP) and one module per method."""
