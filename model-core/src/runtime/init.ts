/**
 * Seeded weight initialisation, in plain JS so the same seed gives bit-identical weights on every tfjs backend.
 * The schemes follow torchvision's ResNet and PyTorch's layer defaults:
 * - conv weight: Kaiming normal, fan_out, ReLU gain (He et al. 2015 "Delving Deep into Rectifiers"): std = √(2 / (outC·k·k));
 * - conv bias and fc weight/bias: PyTorch's default, kaiming_uniform(a=√5) → U(±1/√fan_in);
 * - BN: γ = 1 (0 for zero-init residual BNs, Goyal et al. 2017), β = 0, running mean 0, running var 1.
 */
import { SeededRng } from "../data/rng";

/** FNV-1a of a parameter name, so every tensor draws its own stream: adding a layer does not reshuffle the others. */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The RNG for one named tensor under one global seed. */
export function tensorRng(seed: number, name: string): SeededRng {
  return new SeededRng((Math.imul(seed >>> 0, 0x9e3779b1) ^ hashName(name)) >>> 0);
}

export function normalValues(count: number, std: number, rng: SeededRng): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = rng.normal() * std;
  return out;
}

export function uniformValues(count: number, bound: number, rng: SeededRng): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (rng.next() * 2 - 1) * bound;
  return out;
}

/** Kaiming normal with mode fan_out and ReLU gain; for a conv with weight [outC, inC/groups, k, k], fan_out = outC·k·k. */
export function kaimingNormalStd(outChannels: number, kernel: number): number {
  return Math.sqrt(2 / (outChannels * kernel * kernel));
}

/** PyTorch's default Linear/Conv init bound: kaiming_uniform(a=√5) gives √(6/((1+5)·fan_in)) = 1/√fan_in, and the bias uses the same bound. */
export function defaultUniformBound(fanIn: number): number {
  return 1 / Math.sqrt(fanIn);
}
