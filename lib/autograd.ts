// The tape: each recorded op leaves a GradNode on its output. backward() walks the
// nodes in reverse topological order, sums gradients that meet at a tensor, fills the
// .grad of leaves, and frees each node's saved activations as soon as it has run.
import { native } from './native.js';
import { Tensor, keep } from './tensor.js';

/**
 * What a node's backward returns for an input whose gradient it added into the pending one
 * (pending(i)) itself, in place, instead of returning a new tensor for the engine to add.
 */
export const ACCUMULATED: unique symbol = Symbol('accumulated');
export type InputGrad = Tensor | null | typeof ACCUMULATED;

/**
 * The gradient already summed for input i when its node runs backward (from the input's other
 * consumers), if any: an op whose kernel can add into its output (layernorm's dx) adds its
 * gradient there and returns ACCUMULATED, sparing the engine a pass over both.
 */
export type PendingGrad = (i: number) => Tensor | undefined;

export interface GradNode {
  name: string;
  inputs: (Tensor | null)[];
  /** Gradients for each input (null where the input needs none). Called once. */
  backward(gradOut: Tensor, pending: PendingGrad): InputGrad[];
  /** Tensors saved for backward, disposed after backward (or when the graph is dropped). */
  saved: Tensor[];
}

let gradEnabled = true;

/** Runs fn without recording (target encoder, evaluation, EMA). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** True when an op on these inputs must be recorded. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  if (!gradEnabled) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

/**
 * Releases x once out is made, when no graph holds out (no grad: a target or frozen encoder): with
 * one, backward may read x (layernorm's reads its input, attention's its qkv). Without this a
 * frozen ViT-L kept every block's residual stream and qkv until its scope ended: 0.5 GB per clip
 * (test/ops/leak.test.ts).
 */
export function releaseUngraphed(x: Tensor, out: Tensor): void {
  if (!out.gradFn) x.release();
}

/** Attaches a node to an op's output. Inputs that need no grad get null gradients. */
export function record(
  out: Tensor,
  name: string,
  inputs: (Tensor | null)[],
  saved: Tensor[],
  backward: (g: Tensor, pending: PendingGrad) => InputGrad[],
): Tensor {
  out.requiresGrad = true;
  out.gradFn = { name, inputs, saved, backward };
  return out;
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS: ViT graphs are deep enough to hurt recursion.
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.gradFn ? t.gradFn.inputs : [];
    if (i < inputs.length) {
      top[1]++;
      const next = inputs[i];
      if (next && next.requiresGrad && !seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order.reverse();
}

function accumulate(into: Map<Tensor, Tensor>, t: Tensor, g: Tensor): void {
  const prev = into.get(t);
  if (!prev) {
    into.set(t, g);
    return;
  }
  native.axpby(prev.handle, g.handle, prev.handle, 1, 1);
  g.dispose();
}

/**
 * Backpropagates from a scalar (or from `gradOut` for a non-scalar root). Leaf tensors
 * with requiresGrad get .grad allocated on first use and accumulated after.
 */
export function backward(root: Tensor, gradOut?: Tensor): void {
  if (!root.requiresGrad) throw new Error('backward: the tensor does not require grad (was it computed under noGrad?)');
  if (!gradOut && root.numel !== 1)
    throw new Error(`backward: root has shape [${root.shape}]; pass gradOut for a non-scalar root`);
  const order = topoOrder(root);
  const grads = new Map<Tensor, Tensor>();
  grads.set(root, gradOut ? gradOut.clone() : Tensor.full(root.shape, 1, root.device));
  for (const t of order) {
    const g = grads.get(t);
    grads.delete(t);
    if (!g) continue;
    const node = t.gradFn;
    if (!node) {
      // A leaf: accumulate into .grad, which outlives every scope.
      if (t.grad) {
        native.axpby(t.grad.handle, g.handle, t.grad.handle, 1, 1);
        g.dispose();
      } else {
        t.grad = keep(g); // leaf gradients outlive the step's scope
      }
      continue;
    }
    const inGrads = node.backward(g, (i) => {
      const inp = node.inputs[i];
      return inp && inp.requiresGrad ? grads.get(inp) : undefined;
    });
    g.dispose();
    for (const s of node.saved) s.dispose();
    node.saved = [];
    t.gradFn = null;
    for (let i = 0; i < node.inputs.length; i++) {
      const inp = node.inputs[i];
      const ig = inGrads[i];
      if (ig === ACCUMULATED) {
        // only into a gradient the engine offered: else this input's gradient would be lost
        if (!inp || !grads.has(inp)) throw new Error(`backward: ${node.name} returned ACCUMULATED for input ${i}, which had no pending gradient`);
        continue;
      }
      if (!ig) continue;
      if (!inp || !inp.requiresGrad) {
        ig.dispose();
        continue;
      }
      accumulate(grads, inp, ig);
    }
  }
  for (const g of grads.values()) g.dispose();
}


/** Drops a graph without running backward (frees saved activations). */
/**
 * The gradient buffer of a leaf parameter, for ops whose kernels accumulate straight into
 * it (GEMM with beta=1, layernorm dw/db): saves a temporary and an add per parameter.
 * Returns null when t is not a leaf that wants a gradient.
 */
export function leafGrad(t: Tensor | null): Tensor | null {
  if (!t || !t.requiresGrad || t.gradFn) return null;
  if (!t.grad) t.grad = keep(Tensor.zeros(t.shape, 'float32', t.device));
  return t.grad;
}
