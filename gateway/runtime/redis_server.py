"""A private ``redis-server`` child on a unix socket, for the embedded mode and the tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

from gateway.errors import ConfigurationError

__all__ = ["AppendFsync", "RedisServer", "find_redis_server"]

AppendFsync = Literal["always", "everysec"]

# sun_path holds 108 bytes on Linux, one of them the terminating NUL.
_MAX_SOCKET_PATH = 107
_POLL_INTERVAL = 0.01
_LOG_TAIL_BYTES = 4000


def find_redis_server() -> str | None:
    """Return the absolute path of the ``redis-server`` binary on ``PATH``, or None."""
    return shutil.which("redis-server")


class RedisServer:
    """Run one ``redis-server`` child serving ``data_dir/redis.sock``, with AOF in ``data_dir``.

    No TCP port is opened. Data written before ``stop()`` is there again after a new ``start()``
    on the same directory; with ``appendfsync="everysec"`` a crash (not a stop) may lose the last
    second of writes, ``"always"`` loses nothing but fsyncs every write. Redis' own log goes to
    ``data_dir/redis-server.log``.

    ``start()`` raises ``ConfigurationError`` when the binary is missing, the socket path is too
    long for a unix socket, another server already serves the directory, or the child does not
    answer PING within ``startup_timeout`` seconds (the message carries the tail of its log).
    ``stop()`` always reaps the child. Use as a context manager, or call both yourself.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        appendfsync: AppendFsync = "everysec",
        binary: str | None = None,
        startup_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.appendfsync: AppendFsync = appendfsync
        self._binary = binary
        self._startup_timeout = startup_timeout
        self._stop_timeout = stop_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        """The unix socket clients connect to."""
        return self.data_dir / "redis.sock"

    @property
    def url(self) -> str:
        """A redis-py URL for the socket: ``unix:///…/redis.sock``."""
        return f"unix://{self.socket_path}"

    @property
    def log_path(self) -> Path:
        """Where the child's stdout and stderr go."""
        return self.data_dir / "redis-server.log"

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The child of the last ``start()`` (kept after ``stop()``, already reaped), or None."""
        return self._process

    @property
    def running(self) -> bool:
        """True while the child started by ``start()`` is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the child and return once it answers PING; see the class for what is raised."""
        if self.running:
            raise RuntimeError(f"redis-server for {self.data_dir} is already running")
        binary = self._binary or find_redis_server()
        if binary is None:
            raise ConfigurationError(
                "redis-server was not found on PATH: install it (apt-get install redis-server) "
                "or point the gateway at an external Redis URL"
            )
        if len(os.fsencode(self.socket_path)) > _MAX_SOCKET_PATH:
            raise ConfigurationError(
                f"the Redis socket path {self.socket_path} is longer than a unix socket allows "
                f"({_MAX_SOCKET_PATH} bytes): choose a shorter data directory"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Two servers on one directory would both append to the same AOF and corrupt it.
        if _probe(self.socket_path) is not None:
            raise ConfigurationError(
                f"another Redis already serves {self.socket_path}: one gateway per data directory"
            )

        # A file, not a pipe: nobody reads the child's output while it runs, and a full pipe
        # would block Redis on its next log line.
        self._log = self.log_path.open("ab")
        # Its own session, so a Ctrl-C meant for the gateway does not kill Redis before the
        # gateway has finished its own shutdown; stop() ends it instead.
        try:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv, binary from config/PATH
                self._argv(binary),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            self._log.close()
            self._log = None
            raise ConfigurationError(f"cannot run {binary}: {exc}") from exc
        try:
            self._wait_until_ready(self._process)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Shut the child down (its AOF flushed) and reap it; safe to call more than once."""
        process = self._process
        try:
            if process is not None and process.poll() is None:
                # SHUTDOWN acts at once; SIGTERM (same effect: AOF flushed, socket removed) waits
                # for Redis' next cron tick, ~100 ms, so it is only the fallback when the socket
                # is gone or Redis refused.
                if _probe(self.socket_path, b"SHUTDOWN") != b"":
                    process.terminate()
                try:
                    process.wait(timeout=self._stop_timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
        finally:
            if process is not None:
                process.wait()
            if self._log is not None:
                self._log.close()
                self._log = None

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _argv(self, binary: str) -> list[str]:
        return [
            binary,
            "--port", "0",
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", self.appendfsync,
            "--daemonize", "no",
        ]  # fmt: skip

    def _wait_until_ready(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self._startup_timeout
        while True:
            code = process.poll()
            if code is not None:
                raise ConfigurationError(
                    f"redis-server exited with code {code} while starting in {self.data_dir}:\n"
                    f"{self._log_tail()}"
                )
            reply = _probe(self.socket_path)
            # Anything else (no socket yet, -LOADING while the AOF replays) means "not yet".
            if reply is not None and reply.startswith(b"+PONG"):
                return
            if time.monotonic() >= deadline:
                raise ConfigurationError(
                    f"redis-server did not answer PING within {self._startup_timeout} s "
                    f"in {self.data_dir}:\n{self._log_tail()}"
                )
            time.sleep(_POLL_INTERVAL)

    def _log_tail(self) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            with self.log_path.open("rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - _LOG_TAIL_BYTES))
                return log.read().decode("utf-8", errors="replace").strip() or "(no output)"
        except OSError as exc:
            return f"(log unreadable: {exc})"


def _probe(path: Path, command: bytes = b"PING") -> bytes | None:
    """Send one inline command; the first bytes of the reply (b"" if Redis hung up), or None.

    None means nothing answered: no socket, nobody listening, or no reply within a second.
    """
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(str(path))
            sock.sendall(command + b"\r\n")
            return sock.recv(64)
    except OSError:
        return None
