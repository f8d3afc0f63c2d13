"""Exporters (installed as ``mobilestyle.export``): one module per format plus shared verification.

Importing this package never imports onnx, coremltools or litert-torch; each format module imports
its backend when it is used and names the extra to install when it is missing.
"""
