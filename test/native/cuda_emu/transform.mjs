// Rewrites a native/cuda/*.cu file into C++ the emulator (cuda_emu.h) can compile:
//   kernel<<<grid, block, smem, stream>>>(args);  ->  vj_emu::launch_kernel(grid, block, smem, stream, kernel, args);
//   extern __shared__ __align__(n) T name[];      ->  T* name = reinterpret_cast<T*>(vj_emu::dyn_smem());
// Everything else is left as written. Used by CMake when VJEPA_CUDA_EMU=ON:
//   node test/native/cuda_emu/transform.mjs IN.cu OUT.cc
import { readFileSync, writeFileSync } from 'node:fs';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: node transform.mjs IN.cu OUT.cc');
  process.exit(2);
}
let src = readFileSync(input, 'utf8');
let launches = 0;
src = src.replace(/([A-Za-z_][\w:]*(?:<[^<>;()]*>)?)\s*<<<([\s\S]*?)>>>\s*\(([\s\S]*?)\)\s*;/g, (_, kernel, cfg, args) => {
  launches++;
  const a = args.trim();
  return `vj_emu::launch_kernel(${cfg.trim()}, ${kernel}${a ? `, ${a}` : ''});`;
});
src = src.replace(/extern\s+__shared__\s+(?:__align__\(\d+\)\s+)?([\w:]+)\s+(\w+)\s*\[\s*\]\s*;/g, (_, type, name) => `${type}* ${name} = reinterpret_cast<${type}*>(vj_emu::dyn_smem());`);
if (/<<<|>>>\s*\(/.test(src)) {
  console.error(`${input}: a kernel launch was not rewritten`);
  process.exit(1);
}
writeFileSync(output, `// Generated from ${input} by test/native/cuda_emu/transform.mjs (${launches} launches); do not edit.\n#line 1 "${input}"\n${src}`);
