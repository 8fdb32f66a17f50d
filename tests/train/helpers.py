"""Tiny runs shared by the tests: a toy run config, and the overrides that make any shipped
config train, sample and score in seconds."""

import copy
from pathlib import Path

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
# a U-Net small enough for a few CPU steps on digits
TINY_UNET = "{channels: 8, channel_mult: [1, 2], num_res_blocks: 1, attn_resolutions: []}"


def quick_overrides(
    steps: int, batch: int, samples: int, eval_samples: int, sample_steps: int | None = None
) -> list[str]:
    """``--set`` strings for a few quiet training steps and small sample/evaluation draws."""
    out = [
        f"train.steps={steps}",
        "train.progress=false",
        "train.tensorboard=false",
        f"data.batch_size={batch}",
        f"sample.n={samples}",
        f"eval.n_samples={eval_samples}",
    ]
    return out + ([f"sample.steps={sample_steps}"] if sample_steps else [])


def tiny_config(method: str = "flow", steps: int = 6, **train) -> dict:
    cfg = {
        "domain": "toy",
        "data": {"name": "eight_gaussians", "params": {"n": 512}, "batch_size": 32},
        "model": {"name": "mlp", "params": {"width": 32, "depth": 2}},
        "method": {"name": method},
        "train": {
            "steps": steps,
            "lr": 1e-3,
            "warmup": 2,
            "ema_decay": 0.9,
            "precision": "fp32",  # exact-equality tests; bf16 has its own tests
            "log_every": 2,
            "checkpoint_every": 3,
            "keep_last": 2,
            "progress": False,
            "tensorboard": False,
            **train,
        },
        "sample": {"n": 32, "steps": 4, "batch_size": 32},
        "eval": {"n_samples": 64},
    }
    if method == "gan":
        cfg["model"] = {"name": "mlp_generator", "params": {"width": 32, "depth": 2}}
        cfg["discriminator"] = {"name": "mlp_discriminator", "params": {"width": 32, "depth": 2}}
        cfg["method"] = {"name": "gan", "loss": "non_saturating", "r1_gamma": 0.1, "r1_every": 2}
    return copy.deepcopy(cfg)
