"""Assignment A: distributed training, sparse optimization and sparse encoding."""
