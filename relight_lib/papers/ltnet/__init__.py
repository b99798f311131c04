"""LTNet (Zhu et al. 2021): recipe, dehazing and snapshot ensemble."""
