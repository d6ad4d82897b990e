"""Batch scoring of photo folders: the ``infer``, ``merge`` and ``export-onnx`` commands."""
