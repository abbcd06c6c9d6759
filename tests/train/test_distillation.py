import json

import numpy as np
import pytest
import tensorflow as tf

from kws_tf.commands import freeze as freeze_command
from kws_tf.commands import train as train_command
from kws_tf.errors import KwsError
from kws_tf.train.distillation import DistillationConfig, per_example_loss
from tests.conftest import TINY_FEATURES, make_dataset


def _fixed(logits):
    """A stand-in teacher: the same logits for any batch."""
    return lambda batch, training=False: tf.constant(logits, tf.float32)


def test_soft_term_gradient_is_the_closed_form():
    """d(T^2 KL(p_teacher || softmax(z/T)))/dz = T (softmax(z/T) - p_teacher), p_teacher
    being the teachers' averaged temperature-T probabilities."""
    config = DistillationConfig(distillation_weight=1.0, distillation_temperature=3.0)
    teachers = [_fixed([[2.0, -1.0, 0.5]]), _fixed([[0.0, 1.0, 3.0]])]
    logits = tf.Variable([[0.3, 0.1, -0.4]])
    with tf.GradientTape() as tape:
        loss = per_example_loss(config, teachers, None, logits, tf.zeros([1]))
    gradient = tape.gradient(loss, logits).numpy()
    soft = np.mean([tf.nn.softmax(t(None) / 3.0).numpy() for t in teachers], axis=0)
    expected = 3.0 * (tf.nn.softmax(logits / 3.0).numpy() - soft)
    np.testing.assert_allclose(gradient, expected, rtol=1e-5, atol=1e-7)


def test_weight_mixes_the_terms_and_agreement_costs_nothing():
    config = DistillationConfig(distillation_weight=0.25)
    logits = tf.constant([[1.0, 2.0, -1.0], [0.0, 0.5, 0.2]])
    hard = tf.constant([0.7, 1.3])
    np.testing.assert_allclose(per_example_loss(config, [_fixed(logits)], None, logits, hard),
                               0.75 * hard.numpy(), rtol=1e-6)
    np.testing.assert_allclose(per_example_loss(config, [], None, logits, hard), hard)


def test_bad_settings_name_their_flag():
    with pytest.raises(KwsError, match="--distillation_weight"):
        DistillationConfig(distillation_weight=1.5).validate()
    with pytest.raises(KwsError, match="--distillation_temperature"):
        DistillationConfig(distillation_temperature=0).validate()


def _train(tmp_path, data_dir, name, *extra, words="yes,no"):
    argv = ["--data_url=", "--data_dir", str(data_dir), "--wanted_words", words,
            "--train_dir", str(tmp_path / name), "--summaries_dir", str(tmp_path / "logs"),
            "--how_many_training_steps", "20", "--learning_rate", "0.01",
            "--eval_step_interval", "10", "--save_step_interval", "10", "--batch_size", "16",
            "--json_out", str(tmp_path / f"{name}.json")] + TINY_FEATURES + list(extra)
    assert train_command.main(argv) == 0
    return json.loads((tmp_path / f"{name}.json").read_text())


def test_a_student_learns_from_teachers_and_keeps_only_its_own_weights(tmp_path):
    data_dir = make_dataset(tmp_path / "data", speakers=20)
    _train(tmp_path, data_dir, "teacher_a")
    _train(tmp_path, data_dir, "teacher_b", "--seed", "1", "--model_architecture", "dnn",
           "--model_size_info", "32", "32", "32")
    alone = _train(tmp_path, data_dir, "alone", "--seed", "2")
    student = _train(tmp_path, data_dir, "student", "--seed", "2", "--teacher_checkpoints",
                     f"{tmp_path / 'teacher_a'},{tmp_path / 'teacher_b'}")
    assert student["test_count"] == alone["test_count"] > 0
    # The soft labels change what is learnt; the checkpoint holds only the student.
    assert not np.allclose(tf.train.load_variable(student["latest_checkpoint"],
                                                  "model/layer_with_weights-0/kernel/"
                                                  ".ATTRIBUTES/VARIABLE_VALUE"),
                           tf.train.load_variable(alone["latest_checkpoint"],
                                                  "model/layer_with_weights-0/kernel/"
                                                  ".ATTRIBUTES/VARIABLE_VALUE"))
    assert ([n for n, _ in tf.train.list_variables(student["latest_checkpoint"])]
            == [n for n, _ in tf.train.list_variables(alone["latest_checkpoint"])])
    flags = json.loads((tmp_path / "student" / "training_flags.json").read_text())
    assert flags["teacher_checkpoints"].endswith("teacher_b")
    assert freeze_command.main(["--checkpoint", str(tmp_path / "student"), "--output_file",
                                str(tmp_path / "student.pb")]) == 0


def test_a_teacher_of_other_labels_is_refused_by_name(tmp_path, capsys):
    data_dir = make_dataset(tmp_path / "data", speakers=20)
    _train(tmp_path, data_dir, "teacher", words="yes,cat")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        _train(tmp_path, data_dir, "student", "--teacher_checkpoints", str(tmp_path / "teacher"))
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"error: --teacher_checkpoints {tmp_path / 'teacher'} was trained with labels")
