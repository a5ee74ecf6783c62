"""cor-incentives: the incentive and reward engine of a COR inference network."""

__version__ = "0.1.0"
