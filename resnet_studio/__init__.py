"""resnet-studio: an experiment explorer for deep residual learning."""

__version__ = "0.1.0"
