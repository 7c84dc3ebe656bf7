#!/usr/bin/env node
// npx vjepa-export CHECKPOINT --out ENCODER.safetensors [--key SECTION] [--dtype float32|bfloat16]
// One section of a checkpoint (ours or the original's .pth.tar) as a bare safetensors state dict.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { usageFail } from '../lib/config/cli.js';
import { exportCheckpointSection } from '../lib/nn/export.js';

const argv = await yargs(hideBin(process.argv))
  .scriptName('vjepa-export')
  .usage(
    '$0 CHECKPOINT --out FILE.safetensors [--key SECTION] [--dtype float32|bfloat16]\n\n' +
      "Writes one section of a checkpoint (vjepa's safetensors or the original's .pth.tar) as a bare safetensors " +
      "state dict under the original's names: what vjepa-embed, vjepa-probe and meta.init_checkpoint read, and " +
      'what PyTorch loads with load_state_dict(strict=True).',
  )
  .command('$0 <checkpoint>', false)
  .positional('checkpoint', { type: 'string', describe: 'training checkpoint, official .pth.tar, or a state dict' })
  .option('out', { type: 'string', demandOption: true, describe: 'output .safetensors' })
  .option('key', { type: 'string', describe: 'section (default: target_encoder when present, else encoder; e.g. predictor)' })
  .option('dtype', { choices: ['float32', 'bfloat16'] as const, default: 'float32' as const, describe: 'stored dtype (bfloat16 halves the file; loads widen it back)' })
  .strict()
  .fail(usageFail('vjepa-export'))
  .help()
  .parse();

try {
  const r = exportCheckpointSection(argv.checkpoint as string, argv.out, { key: argv.key, dtype: argv.dtype });
  const what = r.key === null ? 'the whole file' : `section ${r.key}`;
  console.log(`wrote ${r.out}: ${what} of ${argv.checkpoint}, ${r.tensors} tensors, ${(r.parameters / 1e6).toFixed(2)}M parameters, ${(r.bytes / 2 ** 20).toFixed(1)} MiB ${argv.dtype}`);
} catch (e) {
  console.error(`vjepa-export: ${(e as Error).message}`);
  process.exit(1);
}
