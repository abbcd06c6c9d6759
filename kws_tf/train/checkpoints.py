"""Training checkpoints: Hello Edge's names, crash-safe resuming.

Files in --train_dir:
    <arch>.ckpt-<step>                 the latest (model, optimizer, step), for resuming
    best/<arch>_<acc x100>.ckpt-<step> each new best validation accuracy (Hello Edge's
                                       name: 9750 is 97.50 %)
    <prefix>.json                      the sidecar of each (kws_tf.models.checkpoint format)
    checkpoint_state.json              which latest and best are complete

A checkpoint counts only once the state file names it, and the state file is
replaced atomically after the checkpoint and its sidecar are written. A kill
during a write therefore leaves the previous checkpoint as the newest; the
half-written files are removed on the next start.
"""
import glob
import json
import os
import shutil

import tensorflow as tf

from kws_tf import cli
from kws_tf.errors import KwsError
from kws_tf.models import checkpoint as model_checkpoint

STATE_FILE = model_checkpoint.STATE_FILE
KEEP_LATEST = 2


def latest_prefix(train_dir, architecture, step):
    return os.path.join(train_dir, f"{architecture}.ckpt-{step}")


def best_prefix(train_dir, architecture, accuracy, step):
    return os.path.join(train_dir, "best", f"{architecture}_{int(round(accuracy * 10000))}"
                                           f".ckpt-{step}")


def check_free_space(train_dir, variables, copies_per_variable=1):
    """Refuses to start when --train_dir cannot hold the checkpoints the run will write (the
    kept latest ones, the one being written and a best one), rather than failing mid-run."""
    checkpoint_bytes = copies_per_variable * sum(int(v.shape.num_elements()) * v.dtype.size
                                                 for v in variables)
    needed = checkpoint_bytes * (KEEP_LATEST + 2) + 2 ** 20
    free = shutil.disk_usage(train_dir).free
    if free < needed:
        raise KwsError(f"--train_dir {train_dir}: {free / 2 ** 20:.1f} MiB free, but its "
                       f"checkpoints need about {needed / 2 ** 20:.1f} MiB")


def _files(prefix):
    return glob.glob(glob.escape(prefix) + ".*")


class CheckpointKeeper:
    """Writes and finds the latest and best checkpoints of one --train_dir."""

    def __init__(self, train_dir, checkpoint, sidecar):
        self.train_dir = train_dir
        # tf.train.Checkpoint(model=..., optimizer=...); may be set after the state is read.
        self.checkpoint = checkpoint
        self.sidecar = sidecar
        self.state_path = os.path.join(train_dir, STATE_FILE)
        self.state = self._read_state()

    def _read_state(self):
        if not os.path.exists(self.state_path):
            return {"latest": [], "best": None, "best_accuracy": None}
        try:
            with open(self.state_path) as stream:
                return json.load(stream)
        except (OSError, ValueError) as error:
            raise KwsError(f"{self.state_path}: unreadable ({error}); move it away to start "
                           "over") from None

    def _write(self, prefix):
        cli.check_writable(prefix)
        self.checkpoint.write(prefix)
        cli.write_json(model_checkpoint.sidecar_path(prefix), self.sidecar)

    def _commit(self):
        cli.write_json(self.state_path, self.state)

    def _unlisted(self):
        """Checkpoint files no committed state names: leftovers of a killed write."""
        listed = set(self.state["latest"]) | set(self.state.get("best_history", []))
        paths = (glob.glob(os.path.join(self.train_dir, "*.ckpt-*"))
                 + glob.glob(os.path.join(self.train_dir, "best", "*.ckpt-*")))
        return [path for path in paths if _prefix_of(path) not in listed]

    def remove_unlisted(self):
        for path in self._unlisted():
            if os.path.isdir(path):  # TF's <prefix>_temp folder of an interrupted write
                shutil.rmtree(path)
            else:
                os.remove(path)

    @property
    def latest(self):
        return self.state["latest"][-1] if self.state["latest"] else None

    def save_latest(self, step, extra=None):
        """Writes <arch>.ckpt-<step>, then names it in the state; keeps the last two. `extra`
        (JSON) is kept with it: what else a resumed run needs (``latest_extra``)."""
        prefix = latest_prefix(self.train_dir, self.sidecar["model_architecture"], step)
        if prefix == self.latest:
            return prefix
        self._write(prefix)
        self.state["latest"] = (self.state["latest"] + [prefix])[-KEEP_LATEST:]
        if extra is not None:
            kept = self.state.get("extra", {})
            self.state["extra"] = {key: kept[key] for key in self.state["latest"] if key in kept}
            self.state["extra"][prefix] = dict(extra)
        self._commit()
        self.remove_unlisted()
        return prefix

    @property
    def latest_extra(self):
        """What save_latest kept with the latest checkpoint, or None."""
        return self.state.get("extra", {}).get(self.latest)

    def reset_best(self):
        """Lets the next evaluation become the best whatever its accuracy (a new curriculum
        stage); earlier best checkpoints stay on disk."""
        self.state["best_accuracy"] = None

    def save_best(self, step, accuracy):
        prefix = best_prefix(self.train_dir, self.sidecar["model_architecture"], accuracy, step)
        self._write(prefix)
        self.state["best"], self.state["best_accuracy"] = prefix, accuracy
        self.state["best_history"] = self.state.get("best_history", []) + [prefix]
        self._commit()
        return prefix


def _prefix_of(path):
    """`dir/ds_cnn.ckpt-300.index` -> `dir/ds_cnn.ckpt-300` (also for the .json sidecar)."""
    head, tail = path.rsplit(".ckpt-", 1)
    return f"{head}.ckpt-{tail.split('.', 1)[0]}"


def restore(checkpoint, prefix, what):
    """Reads `prefix` into `checkpoint`; a mismatch is a KwsError naming the checkpoint."""
    try:
        status = checkpoint.read(prefix)
        status.expect_partial()
        status.assert_existing_objects_matched()
    except (tf.errors.NotFoundError, tf.errors.DataLossError) as error:
        raise KwsError(f"{what} {prefix}: cannot read it ({error.message.splitlines()[0]})") \
            from None
    except (AssertionError, ValueError) as error:
        raise KwsError(f"{what} {prefix}: does not match the model "
                       f"({str(error).splitlines()[0][:300]})") from None
