"""mobilestyle: any style image -> a tiny real-time style-transfer network for phones."""

__version__ = "0.1.0"
