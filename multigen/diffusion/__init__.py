"""Diffusion and flow-matching pieces: schedules, parameterisations, samplers, guidance."""
