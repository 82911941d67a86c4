import asyncio
import json
import sys

from services.archive.main import build, rebuild_offline

if sys.argv[1:] == ["rebuild"]:
    print(json.dumps(asyncio.run(rebuild_offline()), indent=2))
else:
    build().serve()
