import os

import pytest
import torch

# Tests run on 2 shared cores: one intra-op thread each keeps them from fighting.
torch.set_num_threads(1)
os.environ.setdefault("MULTIGEN_CACHE", os.path.join(os.path.dirname(__file__), "..", ".cache"))


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
