#!/bin/sh
# Installs the Debian packages the demo, the benchmarks and the integration
# tests need, if any of their commands is missing: the vde2 delay line, nginx
# (an upstream and the reference proxy), curl, tcpdump, wrk (a C load
# generator: bench/own-time, bench/load and their tests), iproute2 (ip, ss),
# capsh and setpriv, openssl (the HTTPS tests make their own CA and
# certificates), a C compiler with the libc and kernel headers (the
# native-ABI test compiles a program against <linux/tcp.h>), and systemd-analyze
# (test/unit/deploy-systemd.test.ts verifies deploy/synpool.service; Debian
# ships it in the systemd package, which slim container images lack). Does
# nothing when everything is there.
set -eu

missing=""
need() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
need vde_switch vde2
need wirefilter vde2
need nginx nginx-light
need curl curl
need tcpdump tcpdump
need wrk wrk
need ip iproute2
need ss iproute2
need capsh libcap2-bin
need setpriv util-linux
need python3 python3
need cc gcc
need openssl openssl
need systemd-analyze systemd
[ -f /usr/include/stdio.h ] || missing="$missing libc6-dev"
[ -f /usr/include/linux/tcp.h ] || missing="$missing linux-libc-dev"

[ -z "$missing" ] && exit 0
packages=$(printf '%s\n' $missing | sort -u | tr '\n' ' ')

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "synpool: missing system packages: $packages(install them as root with apt-get, or your system's package manager)" >&2
  exit 1
fi
echo "synpool: installing $packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $packages >/dev/null
# Debian starts nginx on install where it can; synpool starts its own.
nginx -s stop 2>/dev/null || true
