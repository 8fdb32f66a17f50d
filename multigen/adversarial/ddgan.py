"""Denoising diffusion GANs (Xiao et al. 2022): a diffusion of T = 1..8 (paper: 2-4) large
steps whose reverse step is a conditional GAN instead of a Gaussian.

The forward process is the paper's discretised VP SDE: at engine time t_k = k/T,
ᾱ_k = exp(-½ t_k² (β_max - β_min) - t_k β_min) (ᾱ_0 = 1 is the data), and
x_k = √ᾱ_k x_0 + √(1 - ᾱ_k) ε, so t = 0 is data and t = 1 is (almost) pure noise, as
everywhere in the engine. Per step α_k = ᾱ_k / ᾱ_{k-1}, β_k = 1 - α_k.

- Generator G(x_k, t_k, z, cond) -> x̂_0 (z a per-sample latent); the sample of x_{k-1} is
  drawn from the Gaussian posterior q(x_{k-1} | x_k, x̂_0) (:func:`posterior`).
- Discriminator D(x_{k-1}, x_k, t_k, cond) -> [B] logits judges the pair.
- Training: k uniform in 1..T, a real pair (x_{k-1} ~ q(x_{k-1}|x_0), x_k ~ q(x_k|x_{k-1}))
  against the fake pair (x'_{k-1} ~ q(x_{k-1}|x_k, G(x_k, z)), x_k); non-saturating loss
  (or hinge / least squares), R1 on the real x_{k-1} every ``r1_every`` steps.
- Sampling: x_T ~ N(0, I) from the domain's ``noise()``, T generator calls (NFE = T).

Networks: a generator subclasses :class:`StepGenerator`, a discriminator
:class:`PairDiscriminator` (images: ``ddgan_unet`` and ``ddgan_discriminator``). A ``model``
of role ``denoiser`` whose network embeds its noise level with
:class:`multigen.nn.NoiseEmbedding` becomes a generator through :class:`DenoiserGenerator`
(z mapped and added to that embedding, as the paper adds its z embedding to the time one),
so every domain with such a denoiser has a DDGAN generator. A pair discriminator is the
domain's own (images: ``ddgan_discriminator``) or any single-state discriminator wrapped by
:func:`pair_discriminator`, which stacks (x_{k-1}, x_k, t) along the state's feature axis
(toy: ``mlp_pair_discriminator``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from multigen.adversarial import losses as gan_losses
from multigen.config import SampleConfig
from multigen.diffusion import samplers as S
from multigen.domain import Batch, DataInfo, DomainError
from multigen.methods import Method, OptimizerSpec, Phase
from multigen.nn import Generator, NoiseEmbedding
from multigen.randomness import rand

TIME_SCALE = 1000.0  # networks see c_noise = 1000·t, the engine's shared embedding scale


# ---- the process ----------------------------------------------------------------------------


def alpha_bars(steps: int, beta_min: float = 0.1, beta_max: float = 20.0) -> Tensor:
    """ᾱ_0..ᾱ_T (float64) of the VP SDE β(t) = β_min + t(β_max - β_min) at t_k = k/T."""
    t = torch.arange(steps + 1, dtype=torch.float64) / steps
    return torch.exp(-0.5 * t**2 * (beta_max - beta_min) - t * beta_min)


def posterior(x0: Tensor, xt: Tensor, abar_t: Tensor, abar_prev: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and variance of q(x_{k-1} | x_k, x_0) for ᾱ_k = ``abar_t``, ᾱ_{k-1} = ``abar_prev``
    ([B], broadcast over the state):

        mean = √ᾱ_{k-1} β_k / (1-ᾱ_k) · x_0 + √α_k (1-ᾱ_{k-1}) / (1-ᾱ_k) · x_k
        var  = β_k (1-ᾱ_{k-1}) / (1-ᾱ_k)
    """
    shape = (-1,) + (1,) * (xt.ndim - 1)
    a_t, a_prev = abar_t.reshape(shape).to(xt), abar_prev.reshape(shape).to(xt)
    alpha = a_t / a_prev
    beta = 1 - alpha
    mean = (a_prev.sqrt() * beta * x0 + alpha.sqrt() * (1 - a_prev) * xt) / (1 - a_t)
    var = beta * (1 - a_prev) / (1 - a_t)
    return mean, var


# ---- networks -------------------------------------------------------------------------------


class StepGenerator(Generator):
    """A DDGAN generator: ``forward(x_t, t, z, cond=None, mask=None) -> x̂_0`` shaped like
    ``x_t``; ``t`` is the engine time [B] in (0, 1]; ``z`` from :meth:`sample_latent`."""


class PairDiscriminator(nn.Module):
    """A DDGAN discriminator: ``forward(x_prev, x_t, t, cond=None, mask=None) -> [B]`` logits
    of the pair (x_{k-1}, x_k) at engine time ``t`` (that of x_k)."""


class DenoiserGenerator(StepGenerator):
    """A domain's denoiser ``F(x, c_noise, cond, mask)`` as a DDGAN generator: z goes through
    an MLP onto the output of the network's :class:`~multigen.nn.NoiseEmbedding` (a forward
    hook adds it), so it conditions every layer the noise level does."""

    def __init__(self, net: nn.Module, latent_dim: int = 32):
        super().__init__()
        if latent_dim < 1:
            raise DomainError(f"latent_dim must be at least 1, got {latent_dim}")
        embeddings = [m for m in net.modules() if isinstance(m, NoiseEmbedding)]
        if not embeddings:
            raise DomainError(
                f"{type(net).__name__} has no NoiseEmbedding to take the latent z; a DDGAN "
                "generator needs a denoiser that embeds its noise level with multigen.nn's"
            )
        self.net, self.latent_dim = net, int(latent_dim)
        width = embeddings[0].out_dim
        self.z_map = nn.Sequential(
            nn.Linear(self.latent_dim, width), nn.SiLU(), nn.Linear(width, width)
        )
        self._z: Tensor | None = None
        embeddings[0].register_forward_hook(self._add_z)

    def _add_z(self, module: nn.Module, args: tuple, out: Tensor) -> Tensor:
        return out if self._z is None else out + self._z.to(out.dtype)

    def forward(
        self,
        x: Tensor,
        t: Tensor,
        z: Tensor,
        cond: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        self._z = self.z_map(z.to(x.dtype))
        try:
            return self.net(x, TIME_SCALE * t.reshape(-1), cond, mask)
        finally:
            self._z = None


class StackedPairDiscriminator(PairDiscriminator):
    """Any domain's single-state discriminator ``D(x, cond, mask)`` as a DDGAN one: it judges
    x_{t-1}, x_t and t (broadcast) stacked along feature axis ``axis`` of the per-sample state;
    built by :func:`pair_discriminator` for the stacked shape (2·F + 1 features)."""

    def __init__(self, disc: nn.Module, axis: int):
        super().__init__()
        self.disc, self.axis = disc, axis

    def forward(
        self,
        x_prev: Tensor,
        x_t: Tensor,
        t: Tensor,
        cond: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        dim = self.axis % (x_prev.ndim - 1) + 1  # the axis in the batched tensor
        size = list(x_prev.shape)
        size[dim] = 1
        tt = t.to(x_prev.dtype).reshape((-1,) + (1,) * (x_prev.ndim - 1)).expand(size)
        if mask is not None:  # padding stays zero in every stacked part
            tt = tt * mask.reshape(mask.shape + (1,) * (x_prev.ndim - mask.ndim)).to(tt.dtype)
        return self.disc(torch.cat([x_prev, x_t.to(x_prev.dtype), tt], dim=dim), cond, mask)


def pair_discriminator(builder: Callable[..., nn.Module], axis: int = 0):
    """A network builder (for a domain's ``NetworkSpec``) of :class:`StackedPairDiscriminator`
    around the discriminator ``builder`` makes, for states with feature axis ``axis`` of the
    per-sample shape (images/audio: 0, channels first; points, atoms, vectors: -1)."""

    def build(info: Any, **params: Any) -> StackedPairDiscriminator:
        shape = [int(s) for s in info["shape"]]
        shape[axis] = 2 * shape[axis] + 1
        stacked = dataclasses.replace(DataInfo.of(info), shape=tuple(shape))
        return StackedPairDiscriminator(builder(stacked, **params), axis)

    build.ddgan_class = StackedPairDiscriminator
    return build


# ---- the method -----------------------------------------------------------------------------


def _chain(step, x: Tensor, times: Tensor, noise) -> Tensor:
    """The reverse chain over ``times`` (t_T..t_1): ``step(x, k)`` returns x_{k-1}."""
    for k in range(len(times), 0, -1):
        x = step(x, k)
    return x


def _steps_nfe(steps: int) -> int:
    return steps


class DDGAN(Method):
    """Denoising diffusion GAN: see the module docstring; ``config`` is a DDGANMethod."""

    default_sampler = "ddgan"
    ema_models = ("generator",)

    def __post_init__(self) -> None:
        cfg = self.config
        run = self.run
        if run.discriminator is None:
            raise DomainError(
                "method ddgan needs a 'discriminator' section: a pair discriminator "
                "D(x_prev, x_t, t) of the domain (images: ddgan_discriminator)"
            )
        T = cfg.timesteps
        if run.sample.steps != T:
            raise DomainError(
                f"sample.steps {run.sample.steps}: method ddgan samples in its "
                f"method.timesteps = {T} steps; set sample.steps: {T}"
            )
        self.models = {
            "generator": self._generator(),
            "discriminator": self._discriminator(),
        }
        self.abar = alpha_bars(T, cfg.beta_min, cfg.beta_max)

    def _generator(self) -> nn.Module:
        name, params = self.run.model.name, dict(self.run.model.params)
        spec = self.domain.networks.get(name)
        if spec is not None and spec.role == "denoiser":
            return DenoiserGenerator(
                self.build_network("denoiser", name, params), self.config.latent_dim
            )
        gen = self.build_network("generator", name, params)
        if not isinstance(gen, StepGenerator):
            raise DomainError(
                f"method ddgan: generator {name!r} does not take (x_t, t, z); use a DDGAN "
                f"generator or a denoiser of domain {self.domain.name!r}: "
                f"{', '.join(self._choices(StepGenerator, ('generator', 'denoiser')))}"
            )
        return gen

    def _discriminator(self) -> nn.Module:
        name, params = self.run.discriminator.name, self.run.discriminator.params
        disc = self.build_network("discriminator", name, params)
        if not isinstance(disc, PairDiscriminator):
            which = self._choices(PairDiscriminator, ("discriminator",))
            raise DomainError(
                f"method ddgan: discriminator {name!r} judges single states, not the pair "
                f"(x_prev, x_t, t); domain {self.domain.name!r} has "
                + (f"these pair discriminators: {', '.join(which)}" if which else "none yet")
            )
        return disc

    def _choices(self, cls: type, roles: tuple[str, ...]) -> list[str]:
        """Names of the domain's networks a DDGAN can use in ``roles``, told by their class
        (denoisers: all of them, :class:`DenoiserGenerator` checks them when built)."""
        out = []
        for n, s in sorted(self.domain.networks.items()):
            if s.role == "denoiser" and "denoiser" in roles:
                out.append(n)
            elif s.role in roles and isinstance(getattr(s.builder, "ddgan_class", None), type):
                if issubclass(s.builder.ddgan_class, cls):
                    out.append(n)
        return out

    # ---- what sampling accepts ---------------------------------------------------------------
    def samplers(self) -> tuple[str, ...]:
        return ("ddgan",)

    def sampler(self, name: str) -> S.Sampler | None:
        if name != "ddgan":
            raise DomainError(f"sampler {name!r} does not apply to method ddgan; it has: ddgan")
        return S.Sampler("ddgan", _chain, _steps_nfe, "DDGAN: T generator steps, posterior draws")

    def schedules(self) -> tuple[str, ...]:
        return ("default",)

    # ---- training ----------------------------------------------------------------------------
    def optimizers(self) -> dict[str, OptimizerSpec]:
        cfg = self.config
        lr = self.run.train.lr
        return {
            "generator": OptimizerSpec(("generator",), lr, cfg.betas),
            "discriminator": OptimizerSpec(("discriminator",), cfg.lr_d or lr, cfg.betas),
        }

    def phases(self) -> list[Phase]:
        return [
            Phase("D", "discriminator", self._d_loss, repeat=self.config.d_steps,
                  frozen=("generator",)),
            Phase("G", "generator", self._g_loss, frozen=("discriminator",)),
        ]  # fmt: skip

    def _levels(self, batch: Batch, gens: Sequence[torch.Generator]) -> tuple[Tensor, ...]:
        """Per sample: k uniform in 1..T, and t_k, ᾱ_k, ᾱ_{k-1} on the batch's device."""
        T = self.config.timesteps
        k = (rand(gens) * T).long().clamp(max=T - 1) + 1
        dev = batch.x.device
        return (
            (k.double() / T).to(dev, torch.float32),
            self.abar[k].to(dev),
            self.abar[k - 1].to(dev),
        )

    def _pair(self, batch: Batch, gens, a_t: Tensor, a_prev: Tensor) -> tuple[Tensor, Tensor]:
        """A real pair: x_{k-1} ~ q(x_{k-1}|x_0), then x_k ~ q(x_k|x_{k-1})."""
        x0 = batch.x.float()
        shape = (-1,) + (1,) * (x0.ndim - 1)
        a_prev_, alpha = a_prev.reshape(shape).float(), (a_t / a_prev).reshape(shape).float()
        x_prev = a_prev_.sqrt() * x0 + (1 - a_prev_).sqrt() * self.domain.noise(batch, gens).float()
        x_t = alpha.sqrt() * x_prev + (1 - alpha).sqrt() * self.domain.noise(batch, gens).float()
        return x_prev, x_t

    def _fake_prev(
        self, gen: nn.Module, batch: Batch, gens, x_t: Tensor, t: Tensor, a_t, a_prev
    ) -> Tensor:
        """x'_{k-1} ~ q(x_{k-1} | x_k, G(x_k, t_k, z))."""
        z = gen.sample_latent(batch, gens)
        x0 = gen(x_t, t, z, batch.cond, batch.mask).float()
        mean, var = posterior(x0, x_t, a_t, a_prev)
        return mean + var.sqrt() * self.domain.noise(batch, gens).float()

    def _d_loss(
        self, models: dict[str, nn.Module], batch: Batch, gens: Sequence[torch.Generator], step: int
    ) -> Tensor:
        cfg = self.config
        disc = models["discriminator"]
        t, a_t, a_prev = self._levels(batch, gens)
        x_prev, x_t = self._pair(batch, gens, a_t, a_prev)
        with torch.no_grad():
            fake = self._fake_prev(models["generator"], batch, gens, x_t, t, a_t, a_prev)

        def critic(x: Tensor) -> Tensor:
            return disc(x, x_t, t, batch.cond, batch.mask).float()

        loss = gan_losses.d_loss(cfg.loss, critic(x_prev), critic(fake)).mean()
        if cfg.r1_gamma > 0 and step % cfg.r1_every == 0:
            # R1 on the real x_{k-1} (the paper's), lazily: every k steps, weighted by k
            r1 = gan_losses.r1_penalty(critic, x_prev).mean()
            loss = loss + (cfg.r1_gamma / 2) * cfg.r1_every * r1
        return loss

    def _g_loss(
        self, models: dict[str, nn.Module], batch: Batch, gens: Sequence[torch.Generator], step: int
    ) -> Tensor:
        t, a_t, a_prev = self._levels(batch, gens)
        _, x_t = self._pair(batch, gens, a_t, a_prev)
        fake = self._fake_prev(models["generator"], batch, gens, x_t, t, a_t, a_prev)
        logits = models["discriminator"](fake, x_t, t, batch.cond, batch.mask).float()
        return gan_losses.g_loss(self.config.loss, logits).mean()

    # ---- sampling ----------------------------------------------------------------------------
    def check_steps(self, steps: int) -> None:
        T = self.config.timesteps
        if steps != T:
            raise DomainError(
                f"steps {steps}: this ddgan run was trained for T = {T} steps "
                f"(method.timesteps) and samples in exactly those; drop --steps or give {T}"
            )

    def sample(
        self,
        models: dict[str, nn.Module],
        template: Batch,
        generators: Sequence[torch.Generator],
        options: SampleConfig,
        sigmas: Tensor | None = None,
    ) -> Batch:
        self.check_steps(options.steps)
        if options.sampler not in (None, "ddgan"):
            self.sampler(options.sampler)  # refuses it
        gen = models["generator"]
        T, B = self.config.timesteps, len(template)
        clip = self.info.x0_clip  # only domains that ask for it (images) clip x̂0
        dev = template.x.device

        def noise() -> Tensor:
            return S.as_float64(self.domain.noise(template, generators))

        def step(x: Tensor, k: int) -> Tensor:
            t = torch.full((B,), k / T, device=dev, dtype=torch.float32)
            z = gen.sample_latent(template, generators)
            x0 = gen(x.float(), t, z, template.cond, template.mask).to(x.dtype)
            if clip is not None:
                x0 = x0.clamp(*clip)
            a_t = self.abar[k].expand(B).to(dev)
            mean, var = posterior(x0, x, a_t, self.abar[k - 1].expand(B).to(dev))
            return mean if k == 1 else mean + var.sqrt() * noise()

        times = torch.arange(T, 0, -1, dtype=torch.float64) / T
        x = _chain(step, noise(), times, noise)
        return template.with_x(x.float())
