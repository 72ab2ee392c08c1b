"""concadvisor: measure where a Python program's time goes and say which concurrency model pays."""
__version__ = "0.1.0"
