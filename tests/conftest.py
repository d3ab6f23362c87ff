"""Suite-wide settings: one CPU thread (tiny tensors; faster and reduction order fixed)."""

import torch

torch.set_num_threads(1)
