"""Shared pytest configuration: the repository root is importable and torch is deterministic."""

import pathlib
import sys

import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
torch.use_deterministic_algorithms(True)
