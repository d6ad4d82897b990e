"""The segmentation network: factory, checkpoints, and the predictor used by batch scoring."""
