"""The ``method:`` section of a run config: one pydantic section per training method, told
apart by ``name``. Each family's process (multigen/diffusion/processes.py) or method class
reads its own section."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from multigen.section import Section


class DiffusionMethod(Section):
    """DDPM-family training (discrete-time VP schedule), ε/v/x0 prediction."""

    name: Literal["ddpm"] = "ddpm"
    parameterization: Literal["eps", "v", "x0"] = "eps"
    schedule: Literal["linear", "cosine", "polynomial_2"] = "linear"
    timesteps: int = Field(1000, ge=2)
    cond_drop: float = Field(0.0, ge=0.0, le=1.0)


class EDMMethod(Section):
    """Karras et al. (2022) preconditioning, log-normal σ and σ_data weighting."""

    name: Literal["edm"] = "edm"
    sigma_data: float | None = Field(None, gt=0, description="None = take it from the data")
    p_mean: float = -1.2
    p_std: float = 1.2
    sigma_min: float = Field(0.002, gt=0)
    sigma_max: float = Field(80.0, gt=0)
    cond_drop: float = Field(0.0, ge=0.0, le=1.0)


class FlowMethod(Section):
    """Rectified flow / conditional flow matching: x_t = (1-t)·x0 + t·ε, target ε - x0."""

    name: Literal["flow"] = "flow"
    ot_pairing: bool = Field(False, description="minibatch optimal-transport noise pairing")
    t_sampling: Literal["uniform", "logit_normal"] = "uniform"
    t_max: float = Field(0.9999, gt=0, lt=1)
    cond_drop: float = Field(0.0, ge=0.0, le=1.0)


class VESDEMethod(Section):
    """Score SDE, variance exploding (Song et al. 2021): σ(t) = σ_min (σ_max/σ_min)^t,
    t ~ U(eps, 1), ε-prediction = the paper's λ(σ) = σ² weighted score matching."""

    name: Literal["vesde"] = "vesde"
    sigma_min: float = Field(0.01, gt=0)
    sigma_max: float = Field(50.0, gt=0)
    sigma_data: float | None = Field(
        None, gt=0, description="input scaling 1/sqrt(σ_data²+σ²); None = from the data"
    )
    eps: float = Field(1e-5, gt=0, lt=1, description="smallest training t")
    sampling_eps: float = Field(1e-5, gt=0, lt=1, description="last t before the final x̂0")
    cond_drop: float = Field(0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _range(self) -> VESDEMethod:
        if not self.sigma_max > self.sigma_min:
            raise ValueError(f"sigma_max ({self.sigma_max}) must exceed sigma_min")
        return self


class VPSDEMethod(Section):
    """Score SDE, variance preserving (Song et al. 2021): β(t) = β_min + t(β_max - β_min),
    continuous t ~ U(eps, 1), ε-prediction."""

    name: Literal["vpsde"] = "vpsde"
    beta_min: float = Field(0.1, gt=0)
    beta_max: float = Field(20.0, gt=0)
    eps: float = Field(1e-5, gt=0, lt=1, description="smallest training t")
    sampling_eps: float = Field(1e-3, gt=0, lt=1, description="last t before the final x̂0")
    cond_drop: float = Field(0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _range(self) -> VPSDEMethod:
        if not self.beta_max >= self.beta_min:
            raise ValueError(f"beta_max ({self.beta_max}) must be at least beta_min")
        return self


class JointFlowMethod(Section):
    """Flow matching over a state with several parts: the continuous part on the engine's
    flow path, categorical parts (data.params that make them, e.g. molecules' graph: true)
    by categorical flow matching with the data's marginal prior; one t per sample."""

    name: Literal["joint_flow"] = "joint_flow"
    t_sampling: Literal["uniform", "logit_normal"] = "uniform"
    t_max: float = Field(0.9999, gt=0, lt=1)
    cond_drop: float = Field(0.0, ge=0.0, le=1.0)
    loss_weights: dict[str, float] = Field(
        default_factory=dict,
        description="weight per part ('x' = the continuous part, else a part's name); 1 if unset",
    )
    final: Literal["argmax", "sample"] = Field(
        "argmax",
        description="the last sampling step's classes: the most likely (argmax) or a draw",
    )
    ot_pairing: bool = Field(
        False, description="permute + rotate each sample's noise onto its data (equivariant OT)"
    )
    self_condition: bool = Field(
        False, description="feed the previous prediction back to the network (Chen et al. 2022)"
    )
    part_time: dict[str, float] = Field(
        default_factory=dict,
        description="per categorical part, exponent g of its noise level t**g (1 if unset; "
        "g > 1: the part is decided earlier in sampling than the coordinates)",
    )
    categorical_prior: Literal["marginal", "masked"] = Field(
        "marginal",
        description="categorical parts' noise: redraws from the data's marginal (marginal) or "
        "an extra mask state (masked: the network never sees a wrong class)",
    )
    eta: float = Field(
        0.0,
        ge=0.0,
        description="sampling stochasticity of the categorical parts (Campbell "
        "et al. 2024's detailed-balance rate; 0 = none)",
    )
    x_weight: Literal["none", "velocity"] = Field(
        "none",
        description="weight of the coordinates' x̂0 error over t: none, or velocity "
        "(1/t², capped at x_weight_cap: the flow-matching velocity loss)",
    )
    x_weight_cap: float = Field(100.0, gt=0)
    x_churn: float = Field(
        0.0,
        ge=0.0,
        description="coordinates sampled by the reverse SDE with diffusion 2·x_churn·t instead "
        "of the ODE (same marginals; 0 = ODE)",
    )


class GANMethod(Section):
    name: Literal["gan"] = "gan"
    loss: Literal["non_saturating", "hinge", "wgan_gp", "least_squares"] = "non_saturating"
    r1_gamma: float = Field(0.0, ge=0.0, description="R1 weight (0 = off)")
    r1_every: int = Field(16, ge=1, description="lazy regularisation interval")
    gp_weight: float = Field(10.0, ge=0.0, description="WGAN-GP gradient-penalty weight")
    d_steps: int = Field(1, ge=1, description="discriminator updates per generator update")
    lr_d: float | None = Field(None, gt=0, description="None = train.lr")
    betas: tuple[float, float] = (0.0, 0.99)
    # StyleGAN2 / ADA (issue 18; multigen/adversarial/style.py and augment.py)
    lazy_phases: bool = Field(
        False,
        description="R1 and path length in their own phases (Dreg/Greg, every r1_every / "
        "pl_every steps) with Adam's lr and betas corrected by c = k/(k+1) (StyleGAN2 App. B); "
        "false: R1 is added to the D loss on its steps, as before",
    )
    pl_weight: float = Field(
        0.0, ge=0.0, description="path-length weight (StyleGAN2: 2; needs a mapping network)"
    )
    pl_every: int = Field(4, ge=1, description="path-length interval")
    pl_decay: float = Field(0.01, gt=0.0, le=1.0, description="EMA rate of the target length")
    pl_batch_shrink: int = Field(2, ge=1, description="path length on batch/shrink samples")
    style_mixing: float = Field(
        0.0, ge=0.0, le=1.0, description="probability a training sample mixes two latents' styles"
    )
    augment: Literal["none", "ada", "fixed"] = Field(
        "none", description="discriminator augmentation: adaptive p (ADA), a fixed p, or none"
    )
    augment_pipeline: Literal["bgc", "bg", "b", "bgc_cutout"] = Field(
        "bgc", description="b = pixel blitting, g = geometric, c = colour (Karras et al. 2020b)"
    )
    augment_p: float = Field(0.0, ge=0.0, le=1.0, description="initial (ada) or fixed p")
    ada_target: float = Field(0.6, gt=0.0, lt=1.0, description="target of r_t = E[sign D(real)]")
    ada_interval: int = Field(4, ge=1, description="steps between adjustments of p")
    ada_kimg: float = Field(500.0, gt=0.0, description="thousands of images for p to move by 1")
    grow_until: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="progressive growing (ProGAN): the fraction of train.steps over which the "
        "networks grow from 4x4 to full size with fade-in (0 = off; needs networks that grow)",
    )
    l1_weight: float = Field(
        0.0,
        ge=0.0,
        description="paired translation (pix2pix: 100): weight of the L1 distance between the "
        "generated and the real target, added to the generator loss (needs paired data); "
        "measured in the domain's paired-feature space (Domain.paired_features: the state "
        "itself for images, the log-mel for an audio vocoder, as HiFi-GAN's mel loss)",
    )
    fm_weight: float = Field(
        0.0,
        ge=0.0,
        description="feature matching (HiFi-GAN: 2): weight of the L1 distance between the "
        "discriminator's layer activations on real and generated data, added to the generator "
        "loss (needs paired data and a discriminator that returns features, e.g. hifigan_disc)",
    )


class CycleGANMethod(Section):
    """Unpaired translation (Zhu et al. 2017): generators G: A -> B (``model``) and F: B -> A
    (the same network, built the other way round), discriminators D_B and D_A (the
    ``discriminator`` section, built for each side); data: unpaired A (the condition) and B
    (the state) images (multigen/adversarial/cyclegan.py)."""

    name: Literal["cyclegan"] = "cyclegan"
    loss: Literal["least_squares", "non_saturating", "hinge"] = Field(
        "least_squares", description="adversarial loss of both directions (the paper: LSGAN)"
    )
    cycle_weight: float = Field(
        10.0, ge=0.0, description="λ of the cycle losses ‖F(G(a)) - a‖₁ + ‖G(F(b)) - b‖₁"
    )
    identity_weight: float = Field(
        5.0,
        ge=0.0,
        description="weight of the identity losses ‖G(b) - b‖₁ + ‖F(a) - a‖₁ (the paper: "
        "0.5·λ; 0 = off; needs A and B with one channel count)",
    )
    pool_size: int = Field(
        50, ge=0, description="history of generated images the discriminators see (0 = off)"
    )
    lr_d: float | None = Field(None, gt=0, description="None = train.lr")
    betas: tuple[float, float] = (0.5, 0.999)


class DDGANMethod(Section):
    """Denoising diffusion GAN (Xiao et al. 2022): T steps of the discretised VP SDE, each
    reverse step a conditional GAN; generator G(x_t, t, z) -> x̂0, x_{t-1} drawn from the
    posterior q(x_{t-1} | x_t, x̂0), discriminator D(x_{t-1}, x_t, t)
    (multigen/adversarial/ddgan.py). Sampling: T generator calls from N(0, I)."""

    name: Literal["ddgan"] = "ddgan"
    timesteps: int = Field(
        4, ge=1, le=8, description="T, the steps and sampling NFE (the paper: 2 or 4; 1..8)"
    )
    beta_min: float = Field(0.1, gt=0, description="VP SDE β(t) = β_min + t(β_max - β_min)")
    beta_max: float = Field(20.0, gt=0)
    latent_dim: int = Field(
        32, ge=1, description="size of z when the model is a denoiser turned generator"
    )
    loss: Literal["non_saturating", "hinge", "least_squares"] = "non_saturating"
    r1_gamma: float = Field(0.05, ge=0.0, description="R1 weight on the real x_{t-1} (0 = off)")
    r1_every: int = Field(4, ge=1, description="lazy R1 interval (weighted by it)")
    d_steps: int = Field(1, ge=1, description="discriminator updates per generator update")
    lr_d: float | None = Field(None, gt=0, description="None = train.lr")
    betas: tuple[float, float] = (0.5, 0.9)

    @model_validator(mode="after")
    def _range(self) -> DDGANMethod:
        if not self.beta_max >= self.beta_min:
            raise ValueError(f"beta_max ({self.beta_max}) must be at least beta_min")
        return self


class ConsistencyMethod(Section):
    """Consistency models (Song et al. 2023; improved training, Song & Dhariwal 2023): distil
    a trained diffusion/flow run (``mode: distill``, its ODE solved by Heun) or train from
    scratch (``mode: train``); sampled in 1 to 1 + len(sample_sigmas) network calls."""

    name: Literal["consistency"] = "consistency"
    mode: Literal["distill", "train"] = "train"
    teacher: str | None = Field(
        None,
        description="run folder or zoo:NAME: distill: the teacher (required); train: "
        "optional, only to initialise the network (ECT)",
    )
    teacher_guidance: float | None = Field(
        None, description="guidance of the teacher's ODE (None = the teacher's sample.guidance)"
    )
    init_from_teacher: bool = Field(
        True, description="start from the teacher's weights when it is an EDM run of this network"
    )
    sigma_data: float | None = Field(None, gt=0, description="None = take it from the data")
    sigma_min: float = Field(0.002, gt=0, description="the boundary: f(x, sigma_min) = x")
    sigma_max: float = Field(80.0, gt=0)
    rho: float = Field(7.0, gt=0, description="spacing of the sigma levels (Karras et al.)")
    levels: int = Field(18, ge=2, description="distill: number of sigma levels N")
    s0: int = Field(10, ge=1, description="train: curriculum's first number of intervals")
    s1: int = Field(1280, ge=1, description="train: curriculum's last number of intervals")
    index_sampling: Literal["lognormal", "uniform"] = "lognormal"
    p_mean: float = Field(-1.1, description="log-normal weighting of the level index")
    p_std: float = Field(2.0, gt=0)
    loss: Literal["pseudo_huber", "l2"] = "pseudo_huber"
    huber_c: float | None = Field(None, gt=0, description="None = 0.00054*sqrt(dimensions)")
    weighting: Literal["inverse_step", "uniform"] = Field(
        "inverse_step", description="inverse_step: 1/(sigma_hi - sigma_lo)"
    )
    sample_sigmas: list[float] = Field(
        default_factory=lambda: [0.8],
        description="sigma of the 2nd, 3rd... step of multistep sampling (descending)",
    )
    cond_drop: float = Field(0.0, ge=0.0, le=1.0)


class AutoencoderMethod(Section):
    """KL-regularised autoencoder (latent diffusion's first stage, Rombach et al. 2022):
    reconstruction + ``kl_weight`` x KL to N(0, I), no perceptual or adversarial term
    (multigen/autoencoder.py). Its samples are reconstructions of held-out items."""

    name: Literal["autoencoder"] = "autoencoder"
    loss: Literal["l1", "l2"] = Field("l1", description="reconstruction error (LDM: L1)")
    kl_weight: float = Field(
        1e-6, ge=0.0, description="weight of the KL (summed over latents) against the "
        "reconstruction error (summed over pixels); LDM's KL-f4..f16 use 1e-6"
    )  # fmt: skip


_SECTIONS = (
    DiffusionMethod,
    EDMMethod,
    FlowMethod,
    JointFlowMethod,
    GANMethod,
    CycleGANMethod,
    DDGANMethod,
    ConsistencyMethod,
    VESDEMethod,
    VPSDEMethod,
    AutoencoderMethod,
)
METHOD_SECTIONS: dict[str, type[Section]] = {m.model_fields["name"].default: m for m in _SECTIONS}
MethodConfig = Annotated[Union[_SECTIONS], Field(discriminator="name")]  # noqa: UP007
