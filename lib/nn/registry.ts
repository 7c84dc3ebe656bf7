// Encoder variants by name (MOD-04), with the config's overrides for small models.
export interface VariantSpec {
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  patchSize: number;
}

export const VIT_VARIANTS: Record<string, VariantSpec> = {
  vit_tiny: { embedDim: 192, depth: 12, numHeads: 3, mlpRatio: 4, patchSize: 16 },
  vit_small: { embedDim: 384, depth: 12, numHeads: 6, mlpRatio: 4, patchSize: 16 },
  vit_base: { embedDim: 768, depth: 12, numHeads: 12, mlpRatio: 4, patchSize: 16 },
  vit_large: { embedDim: 1024, depth: 24, numHeads: 16, mlpRatio: 4, patchSize: 16 },
  vit_huge: { embedDim: 1280, depth: 32, numHeads: 16, mlpRatio: 4, patchSize: 16 },
  vit_giant: { embedDim: 1408, depth: 40, numHeads: 16, mlpRatio: 48 / 11, patchSize: 16 },
  // The original's misspelled keyword loses the intended 64/13 ratio (§8.6); we build what it builds.
  vit_gigantic: { embedDim: 1664, depth: 48, numHeads: 16, mlpRatio: 4, patchSize: 14 },
};

export interface ModelOverrides {
  embed_dim?: number;
  depth?: number;
  num_heads?: number;
  mlp_ratio?: number;
}

/** A config's architecture keys (null or absent: the variant's own value) as resolveVariant's overrides. */
export function configOverrides(m: {
  embed_dim?: number | null;
  depth?: number | null;
  num_heads?: number | null;
  mlp_ratio?: number | null;
}): ModelOverrides {
  return { embed_dim: m.embed_dim ?? undefined, depth: m.depth ?? undefined, num_heads: m.num_heads ?? undefined, mlp_ratio: m.mlp_ratio ?? undefined };
}

export function resolveVariant(name: string, overrides: ModelOverrides = {}): VariantSpec {
  const base = VIT_VARIANTS[name];
  if (!base) throw new Error(`model.model_name: unknown variant '${name}' (known: ${Object.keys(VIT_VARIANTS).join(', ')})`);
  const v = {
    ...base,
    embedDim: overrides.embed_dim ?? base.embedDim,
    depth: overrides.depth ?? base.depth,
    numHeads: overrides.num_heads ?? base.numHeads,
    mlpRatio: overrides.mlp_ratio ?? base.mlpRatio,
  };
  if (v.embedDim % v.numHeads) throw new Error(`model: embed_dim ${v.embedDim} is not divisible by num_heads ${v.numHeads}`);
  return v;
}
