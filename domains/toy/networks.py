"""MLP networks for 2-D data: a residual denoiser and a GAN generator/discriminator pair."""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor, nn

from multigen.adversarial.ddgan import pair_discriminator
from multigen.domain import DomainError, NetworkSpec
from multigen.nn import ConditionEmbedding, Generator, NoiseEmbedding


def _dim(info: dict[str, Any]) -> int:
    return int(torch.tensor(info["shape"]).prod())


class ResidualBlock(nn.Module):
    """Pre-norm MLP block; the noise/condition embedding is added after the first layer."""

    def __init__(self, width: int, emb_dim: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, width)
        self.emb = nn.Linear(emb_dim, width)
        self.fc2 = nn.Linear(width, width)
        self.drop = nn.Dropout(dropout)
        self.act = nn.SiLU()

    def forward(self, h: Tensor, emb: Tensor) -> Tensor:
        y = self.fc1(self.act(self.norm(h))) + self.emb(emb)
        return h + self.fc2(self.drop(self.act(y)))


class MLPDenoiser(nn.Module):
    """``forward(x, c_noise, cond=None, mask=None)``: residual MLP conditioned on the noise
    level (sinusoidal embedding of whatever ``c_noise`` the method's preconditioning gives)
    and, when the data has labels/properties, on the condition."""

    def __init__(
        self,
        info: dict[str, Any],
        width: int = 256,
        depth: int = 4,
        emb_dim: int = 64,
        dropout: float = 0.0,
    ):
        super().__init__()
        dim = _dim(info)
        self.noise_emb = NoiseEmbedding(emb_dim)
        hidden = self.noise_emb.out_dim
        self.cond_emb = ConditionEmbedding(
            hidden, int(info.get("num_classes", 0)), int(info.get("cond_dim", 0))
        )
        self.inp = nn.Linear(dim, width)
        self.blocks = nn.ModuleList(ResidualBlock(width, hidden, dropout) for _ in range(depth))
        self.out_norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, dim)
        nn.init.zeros_(self.out.weight)  # start as the zero map: a stable first step
        nn.init.zeros_(self.out.bias)

    def forward(
        self, x: Tensor, c_noise: Tensor, cond: Tensor | None = None, mask: Tensor | None = None
    ) -> Tensor:
        shape = x.shape
        h = self.inp(x.reshape(shape[0], -1).to(self.inp.weight.dtype))
        emb = self.noise_emb(c_noise.reshape(-1).expand(shape[0]))
        if self.cond_emb.enabled:
            emb = emb + self.cond_emb(cond, shape[0], x.device)
        emb = torch.nn.functional.silu(emb)
        for block in self.blocks:
            h = block(h, emb)
        return self.out(torch.nn.functional.silu(self.out_norm(h))).reshape(shape).to(x.dtype)


class MLPGenerator(Generator):
    """z ~ N(0, I) of ``latent_dim`` -> a 2-D point (network scale)."""

    def __init__(
        self, info: dict[str, Any], latent_dim: int = 16, width: int = 256, depth: int = 3
    ):
        super().__init__()
        self.latent_dim = latent_dim
        self.out_shape = tuple(info["shape"])
        cond_width = 32
        self.cond_emb = ConditionEmbedding(
            cond_width, int(info.get("num_classes", 0)), int(info.get("cond_dim", 0))
        )
        in_dim = latent_dim + (cond_width if self.cond_emb.enabled else 0)
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Linear(in_dim if i == 0 else width, width), nn.ReLU()]
        layers.append(nn.Linear(width, _dim(info)))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, cond: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        z = z.to(self.net[0].weight.dtype)
        if self.cond_emb.enabled:
            z = torch.cat([z, self.cond_emb(cond, z.shape[0], z.device)], dim=1)
        return self.net(z).reshape(z.shape[0], *self.out_shape)


class MLPDiscriminator(nn.Module):
    """A 2-D point -> one logit; with labels/properties it adds a projection term
    ⟨embed(cond), features⟩ (Miyato & Koyama 2018)."""

    def __init__(self, info: dict[str, Any], width: int = 256, depth: int = 3):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Linear(_dim(info) if i == 0 else width, width), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width, 1)
        self.cond_emb = ConditionEmbedding(
            width, int(info.get("num_classes", 0)), int(info.get("cond_dim", 0))
        )

    def forward(self, x: Tensor, cond: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        h = self.features(x.reshape(x.shape[0], -1).to(self.head.weight.dtype))
        logits = self.head(h).squeeze(1)
        if self.cond_emb.enabled:
            logits = logits + (self.cond_emb(cond, x.shape[0], x.device) * h).sum(1)
        return logits


def _builder(cls: type[nn.Module], name: str):
    """``builder(info, **params)`` that names the allowed params when one is unknown."""
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "info")]

    def build(info: dict[str, Any], **params: Any) -> nn.Module:
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise DomainError(
                f"network {name!r}: unknown model params {unknown}; allowed: {', '.join(allowed)}"
            )
        return cls(info, **params)

    return build


def network_specs() -> dict[str, NetworkSpec]:
    specs = [
        NetworkSpec(
            "mlp",
            "denoiser",
            _builder(MLPDenoiser, "mlp"),
            "residual MLP denoiser (width, depth, emb_dim, dropout)",
        ),
        NetworkSpec(
            "mlp_generator",
            "generator",
            _builder(MLPGenerator, "mlp_generator"),
            "MLP GAN generator (latent_dim, width, depth)",
        ),
        NetworkSpec(
            "mlp_discriminator",
            "discriminator",
            _builder(MLPDiscriminator, "mlp_discriminator"),
            "MLP discriminator, projection-conditioned (width, depth)",
        ),
        NetworkSpec(
            "mlp_pair_discriminator",
            "discriminator",
            pair_discriminator(_builder(MLPDiscriminator, "mlp_pair_discriminator"), axis=-1),
            "DDGAN: the MLP discriminator of (x_prev, x_t, t) stacked (width, depth)",
        ),
    ]
    return {s.name: s for s in specs}
