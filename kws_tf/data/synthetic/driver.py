"""The driver subprocess that runs the worker pool, and progress in the calling process.

The calling process sends the planned jobs to a fresh interpreter (``python -c``) as a pickle
on stdin; that driver forks one worker per job and reports back one JSON message per line.
"""
import json
import multiprocessing
import os
import pickle
import subprocess
import sys
import time
import traceback

import kws_tf
from kws_tf import progress
from kws_tf.data.synthetic import flite
from kws_tf.data.synthetic.render import _check_words, _set_rooms, _task
from kws_tf.errors import KwsError

_DRIVER_CODE = "from kws_tf.data.synthetic.driver import _driver; _driver()"
_PHONEMES_CODE = ("import json, sys; from kws_tf.data.synthetic.espeak_ng import _espeak; "
                  "e = _espeak(); print(json.dumps([e.phonemes(t) for t in json.load(sys.stdin)]))")


class _Progress:
    """``clips 1200/3000  845.1 clips/s`` on stderr."""

    def __init__(self, total, enabled=True, stream=None):
        self.total, self.enabled = total, enabled
        self.line = progress.StatusLine(stream)
        self.done, self.start = 0, time.monotonic()

    def update(self, n):
        self.done += n
        if self.enabled:
            rate = self.done / max(time.monotonic() - self.start, 1e-9)
            self.line.show("clips %d/%d  %.1f clips/s" % (self.done, self.total, rate),
                           final=self.done >= self.total)

    def close(self):
        self.line.close()


def _make_dirs(output_dir, names):
    """Creates the output folders, only once the words passed the check in a worker."""
    for name in names:
        path = os.path.join(output_dir, name)
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as e:
            raise KwsError("--output_dir %s: cannot create %s (%s)"
                           % (output_dir, path, e.strerror or e))


def _run_jobs(spec, send):
    """Driver process: checks the words, then renders every job in workers.

    Runs in a clean interpreter that never loads espeak-ng, so every worker
    forked from it starts with espeak-ng's state untouched; each worker does
    one job (``maxtasksperchild=1``) and exits.
    """
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    if spec["flite"]:
        flite.available()  # finds the libraries once here, not in each forked worker
    with ctx.Pool(spec["n_proc"], maxtasksperchild=1, initializer=_set_rooms,
                  initargs=(spec["rooms"],)) as procs:
        silent, missing = procs.apply(_check_words,
                                      (spec["words"], spec["voices"]))
        if missing:
            raise KwsError("espeak-ng data lacks voice(s): %s"
                           % ", ".join(missing))
        if silent:
            raise KwsError("--words: espeak-ng produces no audio for %s"
                           % ", ".join(repr(w) for w in silent))
        _make_dirs(spec["output_dir"], spec["dirs"])
        for kind, result in procs.imap_unordered(_task, spec["jobs"]):
            send({kind: result})
    send({"done": True})


def _driver():
    """Entry point of the driver subprocess: pickled spec on stdin, one JSON
    message per line on (the original) stdout."""
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # stray prints (from C too) go to stderr, not the channel

    def send(msg):
        out.write(json.dumps(msg) + "\n")
        out.flush()

    try:
        _run_jobs(pickle.load(sys.stdin.buffer), send)
    except KwsError as e:
        send({"error": str(e)})
    except BaseException:  # noqa: B902 - reported to the parent, then exit
        send({"internal": traceback.format_exc()})


def _env():
    """This environment, with kws_tf importable in a ``python -c`` subprocess."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(kws_tf.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"]
                                if env.get("PYTHONPATH") else "")
    return env


def phonemes(texts):
    """espeak-ng's American English phonemes of each of ``texts``, from a fresh interpreter,
    as the calling process must hold no espeak-ng state (see ``_run_driver``)."""
    run = subprocess.run([sys.executable, "-c", _PHONEMES_CODE], input=json.dumps(texts),
                         capture_output=True, text=True, env=_env())
    if run.returncode:
        raise RuntimeError("espeak-ng phonemes failed:\n" + run.stderr)
    return json.loads(run.stdout.splitlines()[-1])


def _run_driver(spec, on_message):
    """Runs ``_run_jobs`` in a fresh interpreter (``python -c``).

    A pool started from the caller would re-import the caller's main script
    in every worker (forkserver/spawn) or fork a process that may hold
    threads and a used espeak-ng (fork); a ``-c`` driver has neither.
    """
    proc = subprocess.Popen([sys.executable, "-c", _DRIVER_CODE],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_env())
    finished = False
    try:
        proc.stdin.write(pickle.dumps(spec))
        proc.stdin.close()
        for line in proc.stdout:
            msg = json.loads(line)
            if "error" in msg:
                raise KwsError(msg["error"])
            if "internal" in msg:
                raise RuntimeError("synthetic data driver failed:\n"
                                   + msg["internal"])
            if msg.get("done"):
                finished = True
            else:
                on_message(msg)
        rc = proc.wait()
        if not finished:
            raise RuntimeError("synthetic data driver exited with status %s "
                               "before finishing" % rc)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()


def _render_all(spec, total_clips, show_progress):
    """Renders the jobs of ``spec``; returns (clips written per word, noise files written)."""
    bar = _Progress(total_clips, enabled=show_progress)
    written = {w: 0 for w in spec["words"]}
    noise_written = []

    def on_message(msg):
        if "clips" in msg:
            for w, c in msg["clips"].items():
                written[w] += c
            bar.update(sum(msg["clips"].values()))
        else:
            noise_written.append(msg["noise"])

    try:
        _run_driver(spec, on_message)
    finally:
        bar.close()
    return written, noise_written
