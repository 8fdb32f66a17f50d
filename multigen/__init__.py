"""multigen: one generative engine (diffusion, flow matching, GANs) specialised by domains."""

import os

# OpenMP threads that spin while waiting make a 2-core machine shared with other processes
# 5-30x slower (measured: a DiffWave step 4.2 s spinning vs 0.71 s passive, load ~5). Set
# before torch loads its OpenMP runtime; an explicit user setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
