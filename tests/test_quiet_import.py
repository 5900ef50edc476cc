"""TensorFlow's C++ start-up lines (absl, oneDNN) stay out of notebooks: chapters import
fer_helpers first, which silences them (fer_helpers._quiet)."""

from __future__ import annotations

import os
import subprocess
import sys

CODE = ("import fer_helpers, keras, tensorflow as tf\n"
        "print(int(tf.reduce_sum(tf.ones((2, 2)))))\n"
        "import sys; print('python stderr still works', file=sys.stderr)\n")


def _run(env_level=None, code=CODE):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    if env_level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = env_level
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300)


def test_importing_fer_helpers_first_keeps_tensorflow_startup_lines_out():
    r = _run()
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "4"
    assert "absl" not in r.stderr and "oneDNN" not in r.stderr and "I0000" not in r.stderr
    assert "python stderr still works" in r.stderr


def test_a_level_the_user_set_is_kept():
    code = ("import os, sys, fer_helpers\n"
            "print(os.environ['TF_CPP_MIN_LOG_LEVEL'], "
            "any(type(f).__name__ == '_QuietTensorFlow' for f in sys.meta_path))\n")
    r = _run("0", code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "False"]  # TensorFlow logs as the user asked
