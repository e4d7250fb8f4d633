"""wgpu-mlp from Python: scikit-learn's MLPClassifier and MLPRegressor, trained by the same
engines as the `wgpu-mlp` CLI (WGSL compute shaders through wgpu on any GPU, or the CPU engine)."""

from ._mlp import MLPClassifier, MLPRegressor, expected_failed_checks
from ._core import describe_device, gpu_available

__all__ = ["MLPClassifier", "MLPRegressor", "expected_failed_checks", "describe_device", "gpu_available"]
