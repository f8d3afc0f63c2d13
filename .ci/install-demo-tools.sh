#!/usr/bin/env bash
# Toolchains for the demo-app tests (tests/test_demo_android.py, tests/test_demo_web.py), called by .ci/run:
#   java   Debian's offline Maven + junit4 + surefire (the app's core module tests)
#   aapt2  aapt2 + android-framework-res (links the app's manifest and resources)
#   web    Chromium, node/npm, and `npm ci` in android_demo/web (onnxruntime-web, LiteRT.js, playwright-core)
# A stage is skipped, with the reason, only when its toolchain cannot be installed (no root, no apt, apt fails);
# the matching tests then skip and say so.
set -uo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

as_root=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then as_root="sudo -n"; else as_root="none"; fi
fi
apt_updated=0

missing_packages() {
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || echo "$pkg"
    done
}

# apt_stage NAME PACKAGE...: install what is missing; returns non-zero (and says why) when it cannot.
apt_stage() {
    local name=$1; shift
    local missing
    missing=$(missing_packages "$@" | tr '\n' ' ')
    if [ -z "${missing// /}" ]; then
        echo "demo tools [$name]: already installed"
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "demo tools [$name]: SKIPPED: no apt-get on this machine to install $missing"
        return 1
    fi
    if [ "$as_root" = "none" ]; then
        echo "demo tools [$name]: SKIPPED: installing $missing needs root (or password-less sudo)"
        return 1
    fi
    local stage_start; stage_start=$(date +%s)
    # shellcheck disable=SC2086
    if ! DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -q --no-install-recommends $missing >/tmp/demo-tools-apt.log 2>&1; then
        if [ "$apt_updated" = 0 ]; then
            $as_root apt-get update -q >/dev/null 2>&1 && apt_updated=1
            # shellcheck disable=SC2086
            DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -q --no-install-recommends $missing >/tmp/demo-tools-apt.log 2>&1
        fi
    fi
    missing=$(missing_packages "$@" | tr '\n' ' ')
    if [ -n "${missing// /}" ]; then
        echo "demo tools [$name]: SKIPPED: apt-get could not install $missing (see /tmp/demo-tools-apt.log)"
        tail -n 3 /tmp/demo-tools-apt.log | sed 's/^/    /'
        return 1
    fi
    echo "demo tools [$name]: installed in $(( $(date +%s) - stage_start )) s"
}

apt_stage java openjdk-17-jdk-headless maven junit4 libsurefire-java libmaven-compiler-plugin-java \
    libmaven-resources-plugin-java libmaven-jar-plugin-java
apt_stage aapt2 aapt android-framework-res

web_packages=(chromium)
command -v node >/dev/null 2>&1 || web_packages+=(nodejs)
command -v npm >/dev/null 2>&1 || web_packages+=(npm)
if apt_stage web "${web_packages[@]}"; then
    stage_start=$(date +%s)
    if (cd android_demo/web && npm ci --no-audit --no-fund --loglevel=error >/tmp/demo-tools-npm.log 2>&1); then
        echo "demo tools [web]: npm ci in android_demo/web took $(( $(date +%s) - stage_start )) s"
    else
        echo "demo tools [web]: SKIPPED: npm ci failed in android_demo/web (see /tmp/demo-tools-npm.log)"
        tail -n 3 /tmp/demo-tools-npm.log | sed 's/^/    /'
    fi
fi
echo "demo tools: $(( $(date +%s) - start )) s in total"
exit 0
