"""Shipped checkpoints (safetensors). Entries live beside their model classes in ``dce_transforms.models``."""
