"""The Python client (standard library only): store, recall, and a refusal with its code.

    PYTHONPATH=clients/python HYPHA_URL=http://127.0.0.1:7411 HYPHA_KEY=hyk_... python3 examples/frameworks/python_client.py
"""

import os

from hypha_client import HyphaClient, HyphaError

hypha = HyphaClient(os.environ.get("HYPHA_URL", "http://127.0.0.1:7411"), os.environ.get("HYPHA_KEY", ""))
memory = hypha.store("user/prefs", "Ana prefers metric units")
print(f"stored {memory.id}")
recall = hypha.recall("which units does Ana prefer?")
print(f"recalled {recall.results[0].memory.content}")
try:
    hypha.get_memory("mem_01JZZZZZZZZZZZZZZZZZZZZZZZ")
except HyphaError as err:
    print(f"error {err.code} {err.status}")
