import os

import pytest

from kws_tf.errors import KwsError
from kws_tf.label.model import default_labels_paths, read_labels


def test_labels_are_looked_for_beside_the_graph():
    assert default_labels_paths(os.path.join("work", "ds_cnn.pb")) == [
        os.path.join("work", "ds_cnn_labels.txt"), os.path.join("work", "labels.txt")]
    assert default_labels_paths("ds_cnn.pb") == ["ds_cnn_labels.txt", "labels.txt"]


@pytest.mark.parametrize("text", ["_silence_\nyes\nno", "_silence_\nyes\nno\n",
                                  "_silence_ \r\nyes\r\nno\r\n\n"])
def test_one_label_per_line_with_or_without_a_final_newline(tmp_path, text):
    path = tmp_path / "labels.txt"
    path.write_bytes(text.encode())
    assert read_labels(str(path)) == ["_silence_", "yes", "no"]


@pytest.mark.parametrize("content, message", [
    (None, "no such file"), (b"", "empty"), (b"\n\n", "empty"), (b"\xff\xfe\x00", "not a text"),
])
def test_bad_labels_files_are_named_in_the_error(tmp_path, content, message):
    path = tmp_path / "labels.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(KwsError, match=f"--labels {path}: {message}"):
        read_labels(str(path))
