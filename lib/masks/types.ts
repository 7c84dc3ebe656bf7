// Shared shapes for the mask generators and the collator (MASK-01).

/** One entry of the config's `mask` list (CFG-02). */
export interface MaskSpec {
  spatial_scale: [number, number];
  temporal_scale: [number, number];
  aspect_ratio: [number, number];
  num_blocks: number;
  max_temporal_keep?: number;
  max_keep?: number | null;
  /** Tube masking only (MASK-04). */
  ratio?: number | null;
}

/** Token grid T' x H' x W' (token k <-> (d, h, w), k = d*H'*W' + h*W' + w). */
export interface TokenGrid {
  T: number;
  H: number;
  W: number;
}

/** A [B, K] int32 index matrix, row-major; each row is ascending. */
export interface MaskIndices {
  data: Int32Array;
  B: number;
  K: number;
}

/** The per-config (context, target) pair for one batch. */
export interface MaskPair {
  ctx: MaskIndices;
  tgt: MaskIndices;
}

export function tokenGrid(numFrames: number, tubeletSize: number, cropSize: number, patchSize: number): TokenGrid {
  for (const [k, v] of Object.entries({ numFrames, tubeletSize, cropSize, patchSize })) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`mask grid: ${k} must be a positive integer, got ${v}`);
  }
  const g = {
    // One frame is the image model (MOD-02), whose grid is one image whatever the tubelet.
    T: numFrames === 1 ? 1 : Math.floor(numFrames / tubeletSize),
    H: Math.floor(cropSize / patchSize),
    W: Math.floor(cropSize / patchSize),
  };
  if (g.T < 1 || g.H < 1) {
    throw new Error(
      `mask grid: empty token grid ${g.T}x${g.H}x${g.W} (num_frames ${numFrames} / tubelet ${tubeletSize}, crop ${cropSize} / patch ${patchSize})`,
    );
  }
  return g;
}
