"""Training: methods (the one registry: recipe name -> model section, builder, step, predict), losses,
data sources and batch sampling, the trainer (restore, loop, checkpointer), checkpoints, DDP."""
