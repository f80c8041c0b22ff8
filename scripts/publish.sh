#!/usr/bin/env bash
# Publishes the NativeAOT `edge` binary for each device kind into artifacts/publish/TARGET/edge, failing on any
# trim or AOT analysis warning, and prints each binary's size.
#
#   bash scripts/publish.sh                      # every target below
#   bash scripts/publish.sh linux-arm64 ...      # only these
#
# Targets:
#   linux-x64           x86-64-v3 (AVX2, FMA): 256-bit kernels; Intel Haswell (2013), AMD Zen and later
#   linux-x64-v4        x86-64-v4 (AVX-512): 512-bit kernels; AMD Zen 4, Intel Ice Lake server and later
#   linux-x64-baseline  .NET's default x64 instruction set: 128-bit kernels; any x64 CPU
#   linux-arm64         ARMv8-A with AdvSimd; SDOT used where the CPU has it (checked at run time)
# NativeAOT fixes the instruction set at compile time (Vector256 is accelerated only in a build that targets AVX2),
# hence one x64 binary per level; `edge doctor` says when a CPU could run a better one.
# linux-arm64 is cross-compiled with clang and lld against Debian's arm64 C library:
#   apt-get install clang lld gcc-aarch64-linux-gnu libc6-dev-arm64-cross
set -euo pipefail
cd "$(dirname "$0")/.."
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(linux-x64 linux-x64-v4 linux-x64-baseline linux-arm64)

for target in "${targets[@]}"; do
  case "$target" in
    linux-x64) flags=(-r linux-x64) ;;
    linux-x64-v4) flags=(-r linux-x64 -p:IlcInstructionSet=x86-64-v4) ;;
    linux-x64-baseline) flags=(-r linux-x64 -p:EdgeX64Baseline=true) ;;
    linux-arm64)
      for tool in clang ld.lld; do
        command -v "$tool" >/dev/null || { echo "publish: linux-arm64 needs $tool (apt-get install clang lld gcc-aarch64-linux-gnu libc6-dev-arm64-cross)" >&2; exit 1; }
      done
      [ -d /usr/aarch64-linux-gnu/lib ] || { echo "publish: linux-arm64 needs the arm64 C library (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross)" >&2; exit 1; }
      flags=(-r linux-arm64 -p:CppCompilerAndLinker=clang -p:LinkerFlavor=lld) ;;
    *) echo "publish: unknown target '$target' (linux-x64, linux-x64-v4, linux-x64-baseline, linux-arm64)" >&2; exit 2 ;;
  esac
  out="artifacts/publish/$target"
  log=$(mktemp)
  # The x64 levels share one intermediate folder; the CLI records its instruction set in its assembly (for
  # `edge doctor`), so switching level rebuilds edge.dll and with it the native code.
  if ! dotnet publish src/Cli -c Release -p:PublishAot=true "${flags[@]}" -o "$out" > "$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; echo "publish: $target failed" >&2; exit 1
  fi
  if grep -E "warning (IL|AOT|CS)" "$log"; then rm -f "$log"; echo "publish: $target has trim/AOT warnings" >&2; exit 1; fi
  rm -f "$log" "$out"/*.dbg "$out"/*.pdb
  echo "publish: $out/edge  $(stat -c %s "$out/edge") bytes"
done
