"""PyAirbyte runs source-yuju: check, discover and read into its DuckDB
cache; the cached chat_messages table is written as JSON lines for
check.py, the cached contacts table must hold CONTACTS contacts, each
once, and every line the source prints must parse as an AirbyteMessage.

With WHEEL, PyAirbyte installs the source from it (`pip_url`) into a
virtual environment of its own, as it installs any Python connector; the
connector is named in a private registry file (AIRBYTE_LOCAL_REGISTRY,
PyAirbyte's way to run without the public registry).

Usage: pyairbyte.py SOURCE_EXECUTABLE CONFIG.json OUT.jsonl CONTACTS [WHEEL]
"""
import json
import os
import subprocess
import sys

os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")

import airbyte as ab  # noqa: E402
from airbyte_protocol.models import AirbyteMessage  # noqa: E402

exe, config_path, out_path, contacts = sys.argv[1:5]
wheel = sys.argv[5] if len(sys.argv) > 5 else None
with open(config_path, encoding="utf-8") as f:
    config = json.load(f)

if wheel:
    registry = os.path.join(os.path.dirname(os.path.abspath(out_path)), "registry.json")
    with open(registry, "w", encoding="utf-8") as f:
        json.dump({"sources": [{
            "dockerRepository": "airbyte/source-yuju", "dockerImageTag": "0.1.0", "language": "python",
            "remoteRegistries": {"pypi": {"enabled": True, "packageName": "yuju-export"}},
        }]}, f)
    os.environ["AIRBYTE_LOCAL_REGISTRY"] = registry
    from pathlib import Path
    install_root = Path(os.path.dirname(os.path.abspath(out_path))) / "pyairbyte-venvs"
    source = ab.get_source("source-yuju", pip_url=wheel, config=config, install_root=install_root)
    installed = install_root / ".venv-source-yuju" / "bin" / "source-yuju"
    if not installed.exists():
        sys.exit(f"PyAirbyte did not install source-yuju from {wheel}")
    print(f"PyAirbyte installed source-yuju from the wheel: {installed}")
    exe = str(installed)
else:
    source = ab.get_source("source-yuju", local_executable=exe, config=config)
source.check()
if not {"chat_messages", "contacts"} <= set(source.get_available_streams()):
    sys.exit(f"discover lists {source.get_available_streams()}, not chat_messages and contacts")
source.select_all_streams()
# The cache lives beside the output, in the run's scratch directory: never
# in the checkout, and never carried over from an earlier run.
cache_dir = os.path.join(os.path.dirname(os.path.abspath(out_path)), "pyairbyte-cache")
cache = ab.new_local_cache("yuju_ci", cache_dir=cache_dir)
result = source.read(cache=cache)
frame = result["chat_messages"].to_pandas()
with open(out_path, "w", encoding="utf-8") as out:
    for record in frame.to_dict(orient="records"):
        row = {k: record.get(k) for k in
               ["customer_id", "chat_id", "seq", "sender_type", "message_type", "content", "extra", "chat_extra"]}
        row = {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
        out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
print(f"PyAirbyte cached {len(frame)} rows")
people = result["contacts"].to_pandas()
if len(people) != int(contacts) or people["id"].nunique() != int(contacts):
    sys.exit(f"PyAirbyte cached {len(people)} contacts ({people['id'].nunique()} distinct), not {contacts}")
print(f"PyAirbyte cached {len(people)} contacts")

# Every line of every command parses as an AirbyteMessage.
discovered = {s["name"]: s for s in json.loads(subprocess.run(
    [exe, "discover", "--config", config_path], check=True, capture_output=True, text=True,
).stdout)["catalog"]["streams"]}
catalog = {"streams": [{
    "stream": discovered["contacts"], "sync_mode": "full_refresh", "destination_sync_mode": "overwrite",
}, {
    "stream": discovered["chat_messages"],
    "sync_mode": "incremental", "destination_sync_mode": "append_dedup",
    "cursor_field": ["window_end"], "primary_key": [["customer_id"], ["chat_id"], ["seq"]],
}]}
catalog_path = out_path + ".catalog.json"
with open(catalog_path, "w", encoding="utf-8") as f:
    json.dump(catalog, f)
lines = 0
for args in (["spec"], ["check", "--config", config_path], ["discover", "--config", config_path],
             ["read", "--config", config_path, "--catalog", catalog_path]):
    run = subprocess.run([exe, *args], capture_output=True, text=True)
    for line in run.stdout.splitlines():
        parse = getattr(AirbyteMessage, "model_validate_json", None) or AirbyteMessage.parse_raw
        parse(line)
        lines += 1
print(f"{lines} lines of source-yuju parse as AirbyteMessages")
