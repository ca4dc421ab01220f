"""Assignment C: communication-efficient and asynchronous training (compress-distributed)."""
