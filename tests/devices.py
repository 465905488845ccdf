"""The devices tests run on: "meta" everywhere (tensors with shapes but no values, a second
device on a machine without a GPU), and CUDA where there is one. Tests are parametrized over
what this machine has, so nothing is skipped on a CPU-only machine and CUDA is tested on a GPU."""
import torch

CUDA = ["cuda"] if torch.cuda.is_available() else []
ELSEWHERE = ["meta", *CUDA]            # a device other than the CPU
ALL = ["cpu", *ELSEWHERE]
