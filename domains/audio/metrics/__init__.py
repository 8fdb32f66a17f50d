"""Audio metrics: paired spectral distances (mr_stft, lsd), set-level log-mel Fréchet
distance (fd_mel) and classifier-based scores (fd_cls, is, mis, am, ndb, accuracy)."""
