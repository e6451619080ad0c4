"""The processes a benchmark run starts, so that each one, and only those, can be stopped, and
the end of a process's log for error messages.

Shared by bench.py and scale.py. Every PID is also appended to a file, so the shell wrapper
can stop any the Python side could not (after checking the command line names the run's work
directory).
"""
import signal
import subprocess


def tail(path, n=30):
    """The last n lines of a log, for an error message."""
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no log)"


class Procs:
    def __init__(self, pidfile, stop_timeout=15):
        self.pidfile = pidfile
        self.stop_timeout = stop_timeout
        self.live = []

    def spawn(self, argv, logpath, env=None):
        with open(logpath, "ab") as out:
            p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        self.live.append(p)
        with open(self.pidfile, "a") as f:
            f.write(f"{p.pid}\n")
        return p

    def stop(self, p, timeout=None):
        """SIGTERM, then SIGKILL after the timeout."""
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=self.stop_timeout if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
            except ProcessLookupError:
                pass
        if p in self.live:
            self.live.remove(p)

    def stop_all(self, timeout=5):
        for p in list(self.live):
            try:
                self.stop(p, timeout=timeout)
            except Exception:
                pass
