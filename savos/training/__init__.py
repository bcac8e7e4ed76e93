"""Training: methods (recipe name -> builder, step, predict), losses, the trainer, checkpoints, DDP."""
