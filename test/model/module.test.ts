// Module's cached parameter list (lib/nn/module.ts) must follow every registration, in a child
// too: the optimizer and the EMA read it every step.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Module } from '../../lib/nn/module.js';
import { Tensor } from '../../lib/tensor.js';

class Leaf extends Module {
  add(name: string, n: number, trainable = true): void {
    this.param(name, Tensor.zeros([n]), trainable);
  }
}

class Tree extends Module {
  readonly a = this.child('a', new Leaf());
  grow(name: string): Leaf {
    return this.child(name, new Leaf());
  }
}

test('namedParameters follows registrations made after it was first read, in children too', () => {
  const t = new Tree();
  t.a.add('w', 3);
  const first = t.namedParameters();
  assert.equal(first.map(([n]) => n), ['a.w']);
  assert.is(t.namedParameters(), first, 'unchanged structure: the same cached list');
  t.a.add('b', 2, false); // a child's registration, which the parent cannot see directly
  assert.equal(t.namedParameters().map(([n]) => n), ['a.w', 'a.b']);
  const c = t.grow('c');
  c.add('w', 4);
  assert.equal(t.namedParameters().map(([n]) => n), ['a.w', 'a.b', 'c.w']);
  assert.equal(t.trainableParameters().map(([n]) => n), ['a.w', 'c.w']);
  assert.is(t.numParameters(false), 9);
  assert.equal(c.namedParameters().map(([n]) => n), ['w'], 'a child lists its own names without the prefix');
  t.dispose();
});

test.run();
