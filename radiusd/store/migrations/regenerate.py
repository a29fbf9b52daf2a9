"""Regenerate the initial migration (0001) from radiusd/store/models.py: `make migration`.

Until a first release the schema has a single revision, rewritten whenever the models change, so a
store is always created by one clean migration. After a release, add revisions instead.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command

from radiusd.store.schema import MIGRATIONS, alembic_config

INITIAL = "0001"


def main() -> None:
    versions = MIGRATIONS / "versions"
    for old in versions.glob(f"{INITIAL}_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = alembic_config(f"sqlite:///{Path(tmp) / 'empty.db'}")
        script = command.revision(cfg, message="initial schema", autogenerate=True, rev_id=INITIAL)
    path = Path(script.path) if script and not isinstance(script, list) else None
    if path is None:
        sys.exit("no migration was written")
    # Alembic's reminder to edit the generated code does not apply to a regenerated file.
    text = path.read_text().replace(" - please adjust!", "")
    path.write_text(text)
    ruff = Path(sys.executable).with_name("ruff")
    subprocess.run([str(ruff), "check", "--fix", "--quiet", str(path)], check=False)
    subprocess.run([str(ruff), "format", "--quiet", str(path)], check=True)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
