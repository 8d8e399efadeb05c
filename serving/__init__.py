"""The serving role (``start.sh serve``): onnxruntime sessions for the models the registry lists,
answered over KServe v2, MMS/TorchServe, Fractal and connectome-native routes. It imports
onnxruntime and numpy, never torch or mxnet."""
