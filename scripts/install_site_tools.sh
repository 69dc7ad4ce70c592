#!/usr/bin/env bash
# The programs the asv site's tools need from the system, installed if missing:
#   npm            fetches the site's JavaScript libraries (make publish)
#   chromium       the browser of the site's test (make test)
#   chromedriver   drives it (Selenium)
# Debian's packages (apt-get; as root, or through sudo without a password). Quick and
# silent when everything is present; exits non-zero, saying what is missing, when it
# cannot install. Selenium itself is a Python package of the project's test extra.
#
# Usage: install_site_tools.sh [npm] [browser]     (default: both)
set -euo pipefail

want=("$@")
[ ${#want[@]} -eq 0 ] && want=(npm browser)
need=()
for tool in "${want[@]}"; do
  case "$tool" in
    npm) command -v npm >/dev/null 2>&1 || need+=(npm) ;;
    browser)
      [ -x /usr/bin/chromium ] || need+=(chromium)
      [ -x /usr/bin/chromedriver ] || need+=(chromium-driver) ;;
    *) echo "install_site_tools: unknown tool '$tool' (npm, browser)" >&2; exit 2 ;;
  esac
done
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "install_site_tools: need ${need[*]} (Debian packages); run as root:" >&2
  echo "  apt-get install -y ${need[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_site_tools: need ${need[*]}, and this system has no apt-get;" >&2
  echo "install them with its package manager (Chromium and its ChromeDriver in /usr/bin)." >&2
  exit 1
fi
echo "install_site_tools: installing ${need[*]} (Debian packages)"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
for pkg in "${need[@]}"; do
  case "$pkg" in
    npm) command -v npm >/dev/null 2>&1 ;;
    chromium) [ -x /usr/bin/chromium ] ;;
    chromium-driver) [ -x /usr/bin/chromedriver ] ;;
  esac || { echo "install_site_tools: $pkg still missing after apt-get" >&2; exit 1; }
done
