"""Multi-worker training: two worker processes on localhost, as on two machines."""
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO, make_dataset, model_weights


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_on_localhost_finish_with_the_samemodel_weights(tmp_path):
    data_dir = make_dataset(tmp_path / "data", speakers=20)
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    train_dir = tmp_path / "train"
    processes = []
    for task in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": task}}),
            CUDA_VISIBLE_DEVICES="")
        processes.append(subprocess.Popen(
            [sys.executable, "train.py", "--distribution_strategy", "multi_worker",
             "--data_url=", "--data_dir", str(data_dir), "--wanted_words", "yes,no",
             "--window_size_ms", "40", "--window_stride_ms", "40",
             "--dct_coefficient_count", "10", "--how_many_training_steps", "12",
             "--learning_rate", "0.01", "--eval_step_interval", "6",
             "--save_step_interval", "6", "--batch_size", "20",
             "--train_dir", str(train_dir), "--summaries_dir", str(tmp_path / "logs"),
             "--json_out", str(tmp_path / f"worker{task}.json")],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [process.communicate(timeout=600)[0] for process in processes]
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-3000:]
    chief = json.loads((tmp_path / "worker0.json").read_text())
    other = json.loads((tmp_path / "worker1.json").read_text())
    assert chief["steps"] == other["steps"] == 12
    # The chief writes to --train_dir, the other worker to a folder of its own.
    assert chief["latest_checkpoint"] == str(train_dir / "ds_cnn_bf.ckpt-12")
    assert other["latest_checkpoint"] == str(train_dir / "worker_1" / "ds_cnn_bf.ckpt-12")
    ours = model_weights(chief["latest_checkpoint"])
    theirs = model_weights(other["latest_checkpoint"])
    assert ours.keys() == theirs.keys() and len(ours) > 0
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
    # They trained: the weights moved away from a fresh initialisation's.
    first = model_weights(str(train_dir / "ds_cnn_bf.ckpt-6"))
    assert any(not np.array_equal(first[name], ours[name]) for name in ours)
