"""`greenroom train`: train, fine-tune and distil a small person-segmentation network.

PyTorch lives in the `train` extra, so nothing here is imported by the rest of greenroom. The
modules each have one job: `data` finds and splits samples, `augment` makes training views of
them, `teacher` labels unlabelled frames with a big model (distillation), `losses` scores
predictions, `network` is the small from-scratch model, `tflite_graph` turns a .tflite into a
trainable graph and writes trained weights back, `selfie` makes MediaPipe's shipped selfie model
the network to fine-tune, `loop` trains either, `export` writes ONNX (or the .tflite) plus the
sidecar TOML that `--model PATH` reads, and `speed` times the result on a 720p frame.
"""
