"""reckon's kernels inside PyTorch: operators (torch.ops.reckon.*) with autograd, and modules built on them.

The operators live in libreckon_torch.so, found in this order: $RECKON_TORCH_LIBRARY, beside this package (an
installed package), build/python in the source tree (`make python`).
"""
import os
import pathlib

import torch

__all__ = ["ops", "nn", "models", "distributed", "library_path"]


def _find_library():
    here = pathlib.Path(__file__).resolve().parent
    candidates = [os.environ.get("RECKON_TORCH_LIBRARY", ""), here / "libreckon_torch.so",
                  here.parent.parent / "build" / "python" / "libreckon_torch.so"]
    for candidate in candidates:
        if candidate and pathlib.Path(candidate).is_file():
            return str(candidate)
    raise ImportError("reckon: libreckon_torch.so not found (looked in: %s); build it with `make python`"
                      % ", ".join(str(c) for c in candidates if c))


library_path = _find_library()
torch.ops.load_library(library_path)

from . import ops  # noqa: E402  (the operators must be loaded first)
from . import nn  # noqa: E402
from . import models  # noqa: E402
from . import distributed  # noqa: E402
