"""Fitting: configs and stage schedules, the training loop, checkpoints and logs."""
