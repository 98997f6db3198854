from cxr_core.runs.provenance import summary_line


def test_the_summary_says_what_tensorflow_was_built_for():
    cpu = summary_line({"package_version": "0.1", "python": "3.11.7", "tensorflow": "2.21.0", "keras": "3.1",
                        "cuda": None, "cudnn": None, "devices": ["CPU:0"]})
    assert "TensorFlow built without CUDA" in cpu and "CUDA -" not in cpu
    gpu = summary_line({"package_version": "0.1", "tensorflow": "2.21.0", "cuda": "12.5.1", "cudnn": "9",
                        "devices": ["GPU:0"]})
    assert "TensorFlow built for CUDA 12.5.1 / cuDNN 9" in gpu and gpu.endswith("devices GPU:0")
