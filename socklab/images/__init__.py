"""The lab's images: built from Debian packages by policy (``rootfs``), and from the Dockerfiles (``build``).

ensure_image(client, "base" | "tools", progress=...) -> tag    # built when missing or stale
ensure_image(client, name, force=True)                         # rebuilt
"""

from socklab.images.debs import ImageBuildError
from socklab.images.policies import BASE_TAG, TOOLS_TAG
from socklab.images.rootfs import build_image, ensure_image, image_exists

__all__ = ["BASE_TAG", "TOOLS_TAG", "ImageBuildError", "build_image", "ensure_image", "image_exists"]
