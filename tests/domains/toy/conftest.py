import pytest
import torch

from multigen_domains.toy import get_domain


@pytest.fixture(scope="session")
def toy():
    return get_domain()


@pytest.fixture(autouse=True)
def one_thread():
    """Toy-sized matmuls gain nothing from intra-op threads, and on a loaded 2-core machine
    two spinning threads made a 100-step fit ~50x slower; restore the setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
