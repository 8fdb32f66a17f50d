"""Network registry of the molecule domain."""

from __future__ import annotations

from multigen.domain import NetworkSpec


def registry() -> dict[str, NetworkSpec]:
    from .e3nn_net import build_e3nn
    from .egnn import build_egnn, build_egnn_discriminator
    from .gan import build_egnn_generator
    from .joint_egnn import build_joint_egnn

    specs = [
        NetworkSpec("egnn", "denoiser", build_egnn, "EDM-style EGNN (attention, tanh coords)"),
        NetworkSpec("e3nn", "denoiser", build_e3nn, "e3nn tensor-product network (l<=2, gated)"),
        NetworkSpec(
            "egnn_generator", "generator", build_egnn_generator, "equivariant GAN generator"
        ),
        NetworkSpec(
            "joint_egnn",
            "joint_denoiser",
            build_joint_egnn,
            "EGNN over atoms and bonds (method joint_flow: coordinates, types, charges, bonds)",
        ),
        NetworkSpec(
            "egnn_discriminator", "discriminator", build_egnn_discriminator, "EGNN + mean pool"
        ),
    ]
    return {s.name: s for s in specs}
