"""Run under torchrun by test_distributed.py: train a tiny run, dump this rank's weights."""

import sys
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import save_file

from multigen.config import load_config
from multigen.registry import get_domain
from multigen.train.trainer import Trainer

sys.path.insert(0, str(Path(__file__).parent))
from helpers import tiny_config  # noqa: E402

torch.set_num_threads(1)
out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
method = sys.argv[2]
cfg = load_config(tiny_config(method, steps=5, checkpoint_every=100))
trainer = Trainer(cfg, get_domain("toy"), out / "run")
for batch in trainer._loader():
    trainer.train_step(batch.to(trainer.device))
    if trainer.step == cfg.train.steps:
        break
rank = dist.get_rank() if dist.is_initialized() else 0
state = {
    f"{k}.{n}": p.detach().clone()
    for k, m in trainer.models.items()
    for n, p in m.state_dict().items()
}
save_file(state, str(out / f"rank{rank}.safetensors"))
if dist.is_initialized():
    # Both ranks reach this point before either tears down: a rank that exits while the
    # other still holds its gloo connection can make the other abort (suspected cause of
    # the intermittent SIGABRT in loaded full-suite runs).
    dist.barrier()
    dist.destroy_process_group()
