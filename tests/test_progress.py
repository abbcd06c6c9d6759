"""Progress output: redrawn on a terminal, plain lines every few seconds in a log."""
import io
import os
import pty

from kws_tf import progress


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_log_gets_plain_lines_no_carriage_returns(monkeypatch):
    clock = iter([0.0, 1.0, 2.0, 6.0, 7.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    log = io.StringIO()
    line = progress.StatusLine(log)
    for n in range(4):
        line.show(f"step {n}")
    line.show("step 4", final=True)
    line.close()
    assert log.getvalue() == "step 0\nstep 3\nstep 4\n"


def test_terminal_line_is_redrawn_in_place(monkeypatch):
    clock = iter([0.0, 0.05, 0.2, 0.25])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    screen = _Terminal()
    line = progress.StatusLine(screen)
    for n in range(3):
        line.show(f"step {n}")
    line.show("done", final=True)
    line.close()
    assert screen.getvalue() == "\rstep 0\rstep 2\rdone\n"


def test_keras_progress_bar_redraws_only_on_a_terminal(monkeypatch):
    monkeypatch.setattr("sys.stdout", io.StringIO())
    bar = progress.progbar(10)
    assert not bar._dynamic_display and bar.interval == progress.LOG_INTERVAL_S
    terminal, other_side = pty.openpty()
    try:
        with os.fdopen(other_side, "w", closefd=False) as tty_stream:
            monkeypatch.setattr("sys.stdout", tty_stream)
            assert progress.progbar(10)._dynamic_display
    finally:
        os.close(terminal)
        os.close(other_side)
