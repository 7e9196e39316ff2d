"""Build hook: generate perfkit/cache/executor.py from its asyncio source.

The asyncio executor is the one source (tools/async_to_sync.py turns it into the sync
module). The generated file is not in git, so no copy of the code is kept by hand or
reviewed twice; every build (wheel, sdist, editable install) writes it and ships it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

GENERATED = "perfkit/cache/executor.py"


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        tool = root / "tools" / "async_to_sync.py"
        if tool.exists():  # a wheel built from an sdist carries the generated file already
            subprocess.run([sys.executable, str(tool)], cwd=root, check=True)
        build_data["artifacts"].append(GENERATED)
