"""multigen: one generative engine (diffusion, flow matching, GANs) specialised by domains."""

__version__ = "0.1.0"
