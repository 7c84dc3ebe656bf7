#!/usr/bin/env bash
# Prepares .device/ (git-ignored) for a lent GPU machine, so that its first call runs the checks
# instead of compiling: the addon built here (sm_90 and, for the wgmma kernels, sm_90a code), an
# xz-compressed node and ffmpeg, and the packages dist/ imports (yaml; uvu and its dependencies). Then, with
# the device tool: carry [".device", "dist"] and run
#   VJEPA_PREBUILT=.device/vjepa.node bash test/gpu/run.sh
# (VJEPA_GPU_PHASES='<regex>' splits the phases over calls when they would not fit in one).
set -euo pipefail
cd "$(dirname "$0")/../.."
npm run build:native
npm run build:ts
mkdir -p .device/node_modules
cp build/Release/vjepa.node .device/vjepa.node
if [ ! -s .device/node.xz ] || [ "$(command -v node)" -nt .device/node.xz ]; then
  xz -T0 -9 -c "$(command -v node)" > .device/node.xz
fi
# ffmpeg for test/gpu/cli.mjs (the CLIs decode video with it): 68 MB, 16 MB as xz.
FFMPEG=$(node -p "require('@ffmpeg-installer/ffmpeg').path")
if [ ! -s .device/ffmpeg.xz ] || [ "$FFMPEG" -nt .device/ffmpeg.xz ]; then
  xz -T0 -9 -c "$FFMPEG" > .device/ffmpeg.xz
fi
for p in yaml uvu dequal diff kleur sade mri; do
  rm -rf ".device/node_modules/$p"
  cp -r "node_modules/$p" ".device/node_modules/$p"
done
du -sh .device dist | sed 's/^/carry: /'
total=$(du -sbc .device dist | tail -1 | cut -f1)
if [ "$total" -gt $((64 * 1024 * 1024)) ]; then
  echo "warning: .device and dist are $((total / 1024 / 1024)) MiB together, over the device tool's 64 MiB carry" >&2
fi
