#!/bin/sh
# Installs the Debian packages sealmail needs to build and test, only those missing.
# Usage: scripts/install-deps.sh [build|test|fuzz|package|all]   (default: all)
set -eu
what="${1:-all}"
build="gcc make pkg-config libssl-dev libevent-dev libunbound-dev libsqlite3-dev
  libinih-dev libcrypt-dev libcurl4-openssl-dev libjson-c-dev libxml2-dev zlib1g-dev
  libseccomp-dev libicu-dev libidn2-dev libpq-dev openssl dns-root-data"
test="libcmocka-dev python3 python3-pytest python3-dnspython python3-spf python3-dkim python3-nacl
  opendkim-tools swaks libnet-ssleay-perl nsd ldnsutils dovecot-lmtpd postfix
  bind9-dnsutils bind9-utils iproute2 util-linux procps python3-cryptography unbound
  postfix-mta-sts-resolver libxml2-utils prometheus chromium curl gdb publicsuffix haproxy
  opendkim rspamd postgresql"
fuzz="clang libclang-rt-14-dev"
# make deb / make test-package: build the .deb, install it into a debootstrapped root
package="debhelper dpkg-dev fakeroot debootstrap systemd"
case "$what" in
build) pkgs="$build" ;;
test) pkgs="$build $test" ;;
fuzz) pkgs="$build $fuzz" ;;
package) pkgs="$build $package" ;;
all) pkgs="$build $test $fuzz $package" ;;
*) echo "usage: $0 [build|test|fuzz|package|all]" >&2; exit 2 ;;
esac
missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d keeps nsd and friends from starting as system services on hosts without one
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
