#!/usr/bin/env bash
# Builds bakeoff/lambda-python:3.12, a stand-in for Lambda's python3.12 image (public.ecr.aws/lambda/python:3.12,
# which needs a container registry) from what this machine can reach: Debian's packages (debootstrap), the
# machine's own CPython 3.12.1 (pyenv's), and awslambdaric + boto3 from the package index. SAM CLI uses it with
# `sam local invoke --invoke-image bakeoff/lambda-python:3.12 --skip-pull-image`.
#
# Cached: the image carries a hash of its inputs (these files, the Python build, the host's architecture);
# when the image present has the same hash, nothing is rebuilt. Needs root (debootstrap, chroot) and Docker.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
IMAGE="${LAMBDA_IMAGE:-bakeoff/lambda-python:3.12}"
PYTHON_HOME="${LAMBDA_IMAGE_PYTHON:-/root/.pyenv/versions/3.12.1}"
SUITE=bookworm
# The shared libraries CPython's extension modules load, and CA certificates for TLS.
PACKAGES=libssl3,libffi8,libsqlite3-0,libbz2-1.0,liblzma5,zlib1g,libreadline8,libncursesw6,libuuid1,ca-certificates

[ -x "$PYTHON_HOME/bin/python3.12" ] || { echo "lambda-image: no CPython 3.12 at $PYTHON_HOME (set LAMBDA_IMAGE_PYTHON)" >&2; exit 1; }
inputs="$( { cat "$here/build.sh" "$here/Dockerfile" "$here/bootstrap" "$here/ric.py" \
              "$here/requirements.txt" "$here/runtime-requirements.txt";
            echo "$PYTHON_HOME $SUITE $PACKAGES $(uname -m)"; "$PYTHON_HOME/bin/python3.12" -VV; } | sha256sum | cut -c1-16)"
have="$(docker image inspect "$IMAGE" --format '{{ index .Config.Labels "org.bakeoff.inputs" }}' 2>/dev/null || true)"
if [ "$have" = "$inputs" ]; then
  echo "lambda-image: $IMAGE is up to date (inputs $inputs)"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "lambda-image: building $IMAGE needs root (debootstrap)" >&2; exit 1; }
command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }

# The Debian mirror apt already uses (deb822 sources, or the classic list).
mirror="$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*debian\)\/\{0,1\}$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)"
[ -n "$mirror" ] || mirror="$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)"
[ -n "$mirror" ] || { echo "lambda-image: no Debian mirror in apt's sources" >&2; exit 1; }

work="$(mktemp -d /tmp/bakeoff-lambda-image.XXXXXX)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
echo "lambda-image: building $IMAGE (inputs $inputs): debootstrap $SUITE ..."
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc "$rootfs"/usr/share/man

echo "lambda-image: CPython $("$PYTHON_HOME/bin/python3.12" -V | cut -d' ' -f2) at /var/lang, awslambdaric, boto3 ..."
mkdir -p "$rootfs/var/lang" "$rootfs/var/runtime" "$rootfs/var/task" "$rootfs/opt"
# Lambda's image has no test suite, no IDLE and no Tk; neither does the stand-in.
tar -C "$PYTHON_HOME" --exclude='lib/python3.12/test' --exclude='lib/python3.12/idlelib' \
    --exclude='lib/python3.12/tkinter' --exclude='lib/python3.12/turtledemo' --exclude='__pycache__' \
    --exclude='lib/python3.12/site-packages/*' -c . | tar -C "$rootfs/var/lang" -x
echo /var/lang/lib >"$rootfs/etc/ld.so.conf.d/var-lang.conf"
chroot "$rootfs" /sbin/ldconfig
# pip runs on the host (inside the chroot it cannot verify the index's certificate), for the same
# interpreter and platform as the image's.
pip=("$PYTHON_HOME/bin/python3.12" -m pip install -q --no-compile --disable-pip-version-check --root-user-action=ignore)
"${pip[@]}" --target "$rootfs/var/lang/lib/python3.12/site-packages" -r "$here/requirements.txt" 2>"$work/pip.log" \
  || { cat "$work/pip.log" >&2; exit 1; }
"${pip[@]}" --target "$rootfs/var/runtime" -r "$here/runtime-requirements.txt" 2>"$work/pip.log" \
  || { cat "$work/pip.log" >&2; exit 1; }
install -m 0755 "$here/bootstrap" "$rootfs/var/runtime/bootstrap"
install -m 0644 "$here/ric.py" "$rootfs/var/runtime/ric.py"
chroot "$rootfs" /var/lang/bin/python3.12 -c 'import ssl, sqlite3, ctypes, lzma, bz2, awslambdaric' \
  || { echo "lambda-image: the copied Python does not start in the image" >&2; exit 1; }

echo "lambda-image: docker import and build ..."
tar -C "$rootfs" -c . | docker import - "$IMAGE-rootfs" >/dev/null
docker build -q --build-arg ROOTFS_IMAGE="$IMAGE-rootfs" --build-arg INPUTS="$inputs" -t "$IMAGE" "$here" \
  >/dev/null 2>"$work/build.log" || { cat "$work/build.log" >&2; exit 1; }
docker image rm "$IMAGE-rootfs" >/dev/null
echo "lambda-image: built $IMAGE (inputs $inputs)"
