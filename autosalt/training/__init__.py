"""Training: datasets and splits, augmentation presets, losses, the loop, the command."""
