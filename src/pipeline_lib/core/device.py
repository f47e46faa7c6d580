"""The one place where the compute device is chosen.

Every stage calls :func:`get_device`; nothing else in the project mentions ``cuda`` or ``cpu``. The environment
variable ``PIPELINE_DEVICE`` overrides the choice (for example ``PIPELINE_DEVICE=cpu`` on a GPU machine).
"""

from __future__ import annotations

import os

import torch

ENV_VAR = "PIPELINE_DEVICE"


def get_device() -> torch.device:
    """Return ``cuda`` when a GPU is visible, else ``cpu``; ``$PIPELINE_DEVICE`` overrides."""
    forced = os.environ.get(ENV_VAR)
    if forced:
        return torch.device(forced)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def describe_device(device: torch.device | None = None) -> str:
    """Human-readable device name recorded in every metrics file."""
    device = device or get_device()
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu ({torch.get_num_threads()} threads)"
