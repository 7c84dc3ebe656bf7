#!/usr/bin/env bash
# The H200 check for the CUDA backend (issue 7): build the addon for sm_90, compare every op of
# the CUDA backend with the CPU backend (test/gpu/ops.mjs, the bf16 GEMMs included), check
# asynchronous uploads against synchronous ones and for races (test/gpu/upload.mjs), run full
# pretraining steps on CUDA against the CPU in fp32 and bf16 (test/gpu/step.mjs) and probe steps
# (test/gpu/probe.mjs), run the command-line tools on CUDA against the CPU and ViT-L/16 through
# vjepa-train (test/gpu/cli.mjs), count kernel launches per step (test/gpu/launches.mjs), then the
# kernel bench (test/gpu/bench.mjs) and the ViT-L step bench
# (test/gpu/step_bench.mjs) against torch, its time by addon call (test/gpu/profile_step.mjs) and its
# memory per clip (test/gpu/vitl_memory.mjs). It ends with a summary (each phase's exit and seconds,
# then the lines that carry ratios against torch and pass counts), since a device call's reply keeps
# only the output's tail. Run from anywhere:
#   bash test/gpu/run.sh            # everything
#   VJEPA_GPU_NO_BENCH=1 bash test/gpu/run.sh
#   VJEPA_GPU_SANITIZE=1 bash test/gpu/run.sh   # the op checks under compute-sanitizer instead:
#     memcheck on every op, racecheck and synccheck on the attention kernels (no bench, no steps)
#   VJEPA_GPU_NCU=1 bash test/gpu/run.sh        # Nsight Compute on the attention kernels instead
# Needs: nvcc + cmake on PATH, node (or ./node.xz, .device/node.xz or ./.node/node carried along),
# node_modules/{node-addon-api,node-api-headers} (carried), cuBLAS (found in the Python
# nvidia-cublas package when not on the library path), and dist/ for step.mjs (carried after
# `npm run build:ts`, or rebuilt here when node_modules/.bin/tsc was carried too).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
# On the device machine $OUT comes back whole, while the reply keeps only the output's tail.
if [ -n "${OUT:-}" ] && [ -d "$OUT" ]; then exec > >(tee -a "$OUT/run.log") 2>&1; fi

if ! command -v node >/dev/null 2>&1; then
  if [ ! -x "$ROOT/.node/node" ]; then
    NODE_XZ=$(ls "$ROOT/node.xz" "$ROOT/.device/node.xz" 2>/dev/null | head -1 || true)
    if [ -n "$NODE_XZ" ]; then
      mkdir -p "$ROOT/.node"
      xz -dc "$NODE_XZ" > "$ROOT/.node/node"
      chmod +x "$ROOT/.node/node"
    else
      echo "node is not installed and none of ./.node/node, ./node.xz, .device/node.xz was carried" >&2
      exit 2
    fi
  fi
  export PATH="$ROOT/.node:$PATH"
fi
# The JavaScript packages dist/ imports (yaml; uvu/assert for the fixtures' checks) may travel in
# .device/node_modules instead of a whole node_modules, whose ffmpeg binary is larger than a call takes.
if [ -d "$ROOT/.device/node_modules" ]; then
  mkdir -p node_modules
  for p in "$ROOT"/.device/node_modules/*; do [ -e "node_modules/$(basename "$p")" ] || cp -r "$p" node_modules/; done
fi
echo "node $(node --version); $(nvcc --version | tail -1)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true

# cuBLAS: the addon dlopens libcublas.so.13/.12; take it from the Python wheel if needed.
if ! ldconfig -p 2>/dev/null | grep -q 'libcublas\.so\.1[23]'; then
  CUBLAS_LIB=$(python3 - <<'PY' 2>/dev/null || true
import glob, os, site, sys
paths = site.getsitepackages() + [site.getusersitepackages()] + sys.path
for p in paths:
    for lib in glob.glob(os.path.join(p, 'nvidia', 'cu*', 'lib', 'libcublas.so.1*')) + glob.glob(os.path.join(p, 'nvidia', 'cublas', 'lib', 'libcublas.so.1*')):
        print(os.path.dirname(lib)); raise SystemExit
PY
)
  if [ -n "$CUBLAS_LIB" ]; then
    export LD_LIBRARY_PATH="$CUBLAS_LIB:${LD_LIBRARY_PATH:-}"
    echo "cuBLAS from $CUBLAS_LIB"
  else
    echo "warning: no libcublas found; GEMM ops will report that cuBLAS could not be loaded" >&2
  fi
fi

# An addon built for sm_90 elsewhere (CI's machines compile the same sources with nvcc 13.0)
# saves the lease the compile: VJEPA_PREBUILT=.device/vjepa.node. It is used only when it loads
# and finds the GPU; otherwise the sources are built here.
T0=$SECONDS
phase() { echo "[${1}: $((SECONDS - T0)) s since start]"; }
JOBS=$(nproc 2>/dev/null || echo 4)
if [ -n "${VJEPA_PREBUILT:-}" ] && [ -f "$VJEPA_PREBUILT" ] \
  && VJEPA_ADDON=$ROOT/$VJEPA_PREBUILT node -e "process.exit(require(process.env.VJEPA_ADDON).cudaInfo().available?0:3)"; then
  ADDON=$ROOT/$VJEPA_PREBUILT
  echo "using the prebuilt addon $VJEPA_PREBUILT"
elif [ -x node_modules/.bin/cmake-js ] && node_modules/.bin/cmake-js --version >/dev/null 2>&1; then
  node_modules/.bin/cmake-js compile --out build --CDCMAKE_CUDA_ARCHITECTURES=90 --parallel "$JOBS" 2>&1 | tail -5
  ADDON=$ROOT/build/Release/vjepa.node
else
  NAPI_INC=$(node -p "require('node-api-headers').include_dir")
  cmake -S . -B build/gpu -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 \
    "-DCMAKE_JS_INC=$NAPI_INC" "-DCMAKE_LIBRARY_OUTPUT_DIRECTORY=$ROOT/build/gpu/Release" >/dev/null
  cmake --build build/gpu -j "$JOBS" 2>&1 | tail -5
  ADDON=$ROOT/build/gpu/Release/vjepa.node
fi
phase built
export VJEPA_ADDON=$ADDON
node -e "const i=require(process.env.VJEPA_ADDON).cudaInfo(); console.log('cudaInfo', JSON.stringify(i)); process.exit(i.available?0:3)" \
  || { echo "CUDA not usable here: nothing to compare"; exit 0; }

if [ -n "${VJEPA_GPU_SANITIZE:-}" ]; then
  # Without the caching allocator every tensor is its own cudaMalloc, so a stray access past
  # one is not hidden inside a cached block. The ViT-L-length attention case is left to the
  # plain run: racecheck makes it take minutes.
  export VJEPA_CUDA_NO_CACHE=1
  SAN="compute-sanitizer --error-exitcode 9 --print-limit 20"
  rc=0
  echo; echo "== memcheck: every op";  $SAN --tool memcheck node test/gpu/ops.mjs || rc=1
  echo; echo "== racecheck: attention"; VJEPA_OPS_ONLY='^attention(?!.*ViT-L)' $SAN --tool racecheck --racecheck-report hazard node test/gpu/ops.mjs || rc=1
  echo; echo "== synccheck: attention"; VJEPA_OPS_ONLY='^attention(?!.*ViT-L)' $SAN --tool synccheck node test/gpu/ops.mjs || rc=1
  exit $rc
fi

if [ -n "${VJEPA_GPU_NCU:-}" ]; then
  # Nsight Compute on the tensor-core attention kernels at ViT-L's length (ops.mjs's ViT-L case,
  # both backward schedules): where their time goes, before changing them. --clock-control none
  # keeps the clocks the benches run at.
  NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1 || true)
  if [ -z "$NCU" ]; then echo "ncu not found"; exit 1; fi
  echo; echo "== ncu: attention kernels, B=1 N=1568 2 heads of 64"
  VJEPA_OPS_ONLY='ViT-L' timeout -k 5 300 "$NCU" --clock-control none --kernel-name regex:'(tc|wg)_(fwd|bwd)' \
    --section SpeedOfLight --section ComputeWorkloadAnalysis --section WarpStateStats --section Occupancy \
    --section LaunchStats node test/gpu/ops.mjs
  exit $?
fi

# Each phase has its own time limit, so that one hung kernel cannot spend the whole lease.
rc=0
SUMMARY=()  # "exit seconds title" per phase run, printed last (the reply keeps only the output's tail)
PLOG=$(mktemp -d)  # each phase's output, for the summary's ratio lines
step() {  # step LIMIT_S TITLE CMD...
  local lim=$1 title=$2; shift 2
  # VJEPA_GPU_PHASES (a grep -E pattern) picks phases by title, for a rerun inside one lease.
  if [ -n "${VJEPA_GPU_PHASES:-}" ] && ! grep -qE "$VJEPA_GPU_PHASES" <<<"$title"; then return 0; fi
  echo; echo "== $title"
  local t=$SECONDS e=0
  set +e
  timeout -k 5 "$lim" "$@" 2>&1 | tee "$PLOG/$(printf %02d "${#SUMMARY[@]}").log"
  e=${PIPESTATUS[0]}
  set -e
  if [ "$e" -ne 0 ]; then echo "!! $title: exit $e$([ "$e" -eq 124 ] && echo ", past its ${lim} s")"; rc=1; fi
  SUMMARY+=("$e $((SECONDS - t)) $title")
  phase "$title"
}
summary() {
  [ "${#SUMMARY[@]}" -gt 0 ] || return 0
  echo; echo "== summary (exit, seconds, phase)"
  for s in "${SUMMARY[@]}"; do
    read -r e secs title <<<"$s"
    printf '%-5s %4s s  %s\n' "$([ "$e" -eq 0 ] && echo ok || echo "x$e")" "$secs" "$title"
  done
  # the lines that carry the ratios against torch and the pass counts
  grep -hE 'ours/torch|end to end|[0-9]+/[0-9]+ (checks )?passed|FAIL' "$PLOG"/*.log 2>/dev/null | cut -c1-200 | tail -40 || true
}
trap 'summary; rm -rf "$PLOG"' EXIT
# dist/ first: every script below imports from it (ops.mjs and bench.mjs their withEnv).
if [ -x node_modules/.bin/tsc ]; then node_modules/.bin/tsc -p tsconfig.json || rc=1; fi
step 150 "ops: CUDA vs CPU" env VJEPA_CUDA_SYNC=1 node test/gpu/ops.mjs
step 60 "uploads: async vs sync, races" node test/gpu/upload.mjs
step 150 "train steps: CUDA vs CPU" node test/gpu/step.mjs
step 150 "train steps, one-pass attention backward (VJEPA_CUDA_ATTN_BWD=fused): CUDA vs CPU" env VJEPA_CUDA_ATTN_BWD=fused node test/gpu/step.mjs
# The wgmma kernels, forward and backward (each is checked alone in ops.mjs), at every head_dim
# (VJEPA_CUDA_ATTN_WGMMA_HD24: the predictor's 16 too).
step 150 "train steps, attention on wgmma (VJEPA_CUDA_ATTN_FWD=wgmma VJEPA_CUDA_ATTN_BWD=wgmma VJEPA_CUDA_ATTN_WGMMA_HD24=1): CUDA vs CPU" \
  env VJEPA_CUDA_ATTN_FWD=wgmma VJEPA_CUDA_ATTN_BWD=wgmma VJEPA_CUDA_ATTN_WGMMA_HD24=1 node test/gpu/step.mjs
step 90 "probe steps: CUDA vs CPU" node test/gpu/probe.mjs
step 60 "image model (num_frames 1): CUDA vs the original's outputs (test/model/image.test.ts)" \
  node node_modules/uvu/bin.js dist/test 'model/image\.test\.js$'
step 90 "attention tuner at ViT-L shapes (what vjepa-train would run)" node test/gpu/tune.mjs
step 420 "command-line tools on CUDA vs CPU (vjepa-train fp32/bf16, -embed, -probe), then ViT-L/16 through vjepa-train" \
  node test/gpu/cli.mjs
step 60 "kernel launches per step (ViT-L structure)" node test/gpu/launches.mjs
step 90 "broken arguments: every op of a step on CUDA returns or throws, never crashes (test/native/fuzz.test.ts)" \
  node node_modules/uvu/bin.js dist/test 'native/fuzz\.test\.js$'

if [ -z "${VJEPA_GPU_NO_BENCH:-}" ]; then
  step 120 "bench" node -e "import('./test/gpu/bench.mjs').then(m => m.bench(require(process.env.VJEPA_ADDON)))"
  step "${VJEPA_STEP_BENCH_LIMIT:-300}" "ViT-L/16 train step: ours bf16 (tuned attention) vs torch bf16 autocast + SDPA" node test/gpu/step_bench.mjs
  step 120 "ViT-L/16 train step, default attention kernels (VJEPA_CUDA_ATTN_TUNE=0): ours alone at batch 32" \
    env VJEPA_CUDA_ATTN_TUNE=0 VJEPA_STEP_NO_TORCH=1 VJEPA_STEP_BATCHES=32 node test/gpu/step_bench.mjs
  step 120 "ViT-L/16 train step, one-pass attention backward: ours alone at batch 32" \
    env VJEPA_CUDA_ATTN_BWD=fused VJEPA_STEP_NO_TORCH=1 VJEPA_STEP_BATCHES=32 node test/gpu/step_bench.mjs
  step 120 "ViT-L/16 train step, attention on wgmma (forward and backward, the predictor's 24 too): ours alone at batch 32" \
    env VJEPA_CUDA_ATTN_FWD=wgmma VJEPA_CUDA_ATTN_BWD=wgmma VJEPA_CUDA_ATTN_WGMMA_HD24=1 VJEPA_STEP_NO_TORCH=1 VJEPA_STEP_BATCHES=32 node test/gpu/step_bench.mjs
  step 150 "where the ViT-L step's time goes (a sync after each addon call)" node test/gpu/profile_step.mjs "${VJEPA_PROFILE_BATCH:-32}"
  step 120 "ViT-L step memory per clip (batch 1 and 2)" node test/gpu/vitl_memory.mjs cuda
fi
exit $rc
