#!/usr/bin/env python3
"""Check (default) or refresh (``--write``) the Data Docs assets vendored for offline reading.

    .venv/bin/python scripts/vendor_data_docs_assets.py            # download again, compare sha256
    .venv/bin/python scripts/vendor_data_docs_assets.py --write    # (re)write the copies and sha256s

``plugins/alliance_finance/validation/data_docs_assets/manifest.json`` lists each file Great
Expectations' Data Docs load from a CDN (and the fonts its stylesheets need): the npm package,
version and file. This downloads each package's tarball from the npm registry
(``https://registry.npmjs.org/<package>/-/<name>-<version>.tgz``), takes the file out unmodified and
checks that its sha256 is the manifest's and the committed copy's (and, where GX's page gives one,
that the file matches the page's Subresource Integrity hash). Standard library only; needs internet.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "plugins" / "alliance_finance" / "validation" / "data_docs_assets"
MANIFEST = ASSETS / "manifest.json"


def tarball_url(package: str, version: str) -> str:
    return f"https://registry.npmjs.org/{package}/-/{package.rsplit('/', 1)[-1]}-{version}.tgz"


def member(tarball: bytes, file: str) -> bytes:
    """``file`` (a path inside the package) out of an npm tarball, whatever its top folder is called."""
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for info in archive.getmembers():
            if info.isfile() and info.name.split("/", 1)[-1] == file:
                return archive.extractfile(info).read()
    raise SystemExit(f"{file} is not in the tarball")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the copies and their sha256 into the manifest")
    args = parser.parse_args(argv)
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    tarballs: dict[str, bytes] = {}
    problems = []
    for asset in manifest["assets"]:
        source = tarball_url(asset["package"], asset["version"])
        if source not in tarballs:
            with urllib.request.urlopen(source, timeout=120) as response:
                tarballs[source] = response.read()
        content = member(tarballs[source], asset["file"])
        digest = hashlib.sha256(content).hexdigest()
        local = ASSETS / f"{asset['package']}@{asset['version']}" / asset["file"]
        label = f"{asset['package']}@{asset['version']}/{asset['file']}"
        if asset.get("integrity"):
            algorithm, expected = asset["integrity"].split("-", 1)
            if base64.b64encode(hashlib.new(algorithm, content).digest()).decode() != expected:
                problems.append(f"{label}: does not match the integrity GX's page gives ({asset['integrity']})")
        if args.write:
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(content)
            asset["source"], asset["sha256"] = source, digest
        else:
            if asset.get("sha256") != digest:
                problems.append(f"{label}: the registry's file has sha256 {digest}, the manifest {asset.get('sha256')}")
            if not local.is_file() or hashlib.sha256(local.read_bytes()).hexdigest() != digest:
                problems.append(f"{label}: the committed copy {local} differs from the registry's file")
        print(f"{digest}  {label}")
    if args.write:
        MANIFEST.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(manifest['assets'])} files {'written' if args.write else 'checked'}, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
