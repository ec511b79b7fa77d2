"""Adapters for other frameworks, installed as ``dce_transforms.integrations``.

Each submodule imports its framework when it is itself imported, never before:
``dce_transforms.integrations.albumentations``, ``.kornia``, ``.torchvision``, ``.ultralytics``.
"""
