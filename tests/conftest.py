import torch

# Denormal floats make some CPU kernels several times slower.
torch.set_flush_denormal(True)
