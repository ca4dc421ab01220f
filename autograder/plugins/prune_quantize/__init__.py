"""Assignment B: pruning and fixed-point quantization of ResNet-20."""
