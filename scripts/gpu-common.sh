# Sourced by the scripts that run on the device machine (from the repo root): $OUT for logs, the
# release binary carried in .gpu/kiln.xz unpacked once to $BIN (again when the carried one is
# newer), and a kernel cache that lasts while the machine stays warm.
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
BIN=/tmp/kiln-bin/kiln
if [ ! -x "$BIN" ] || [ .gpu/kiln.xz -nt "$BIN" ]; then mkdir -p /tmp/kiln-bin && xz -dc .gpu/kiln.xz > "$BIN" && chmod +x "$BIN"; fi
export KILN_CACHE=${KILN_CACHE:-/tmp/kiln-cache}
