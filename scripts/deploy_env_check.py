"""Every setting deploy/*.yaml gives the service is one the service reads.

The schemas cannot see this: a misspelt variable in a ConfigMap, a Secret or a
container's `env` is valid Kubernetes and silently ignored by the service. The names
it knows are the ones .env.example lists (set or commented out).
"""

import pathlib
import re
import sys

import yaml

root = pathlib.Path(__file__).resolve().parent.parent
known = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (root / ".env.example").read_text(), re.M))
if len(known) < 40:
    sys.exit(f"FAILED: only {len(known)} settings found in .env.example; its format changed?")

unknown = []
checked = 0
for path in sorted((root / "deploy").glob("*.yaml")):
    for doc in yaml.safe_load_all(path.read_text()):
        if not doc:
            continue
        names = []
        if doc["kind"] in ("ConfigMap", "Secret"):
            names += list(doc.get("data", {})) + list(doc.get("stringData", {}))
        spec = doc.get("spec", {})
        pod = spec.get("template", {}).get("spec", {})
        for container in pod.get("containers", []):
            names += [e["name"] for e in container.get("env", [])]
        for name in names:
            checked += 1
            if name not in known:
                unknown.append(f"{path.name}: {doc['kind']}/{doc['metadata']['name']}: {name}")

if unknown:
    sys.exit("FAILED: settings the service does not read (not in .env.example):\n  " + "\n  ".join(unknown))
print(f"ok   the {checked} settings in deploy/*.yaml are all ones the service reads")
