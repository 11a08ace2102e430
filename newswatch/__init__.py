"""newswatch: streaming news monitoring for money and influence in Central Asia."""
__version__ = "0.1.0"
