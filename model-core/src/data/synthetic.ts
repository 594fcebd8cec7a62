/**
 * Seeded synthetic images for tests and benchmarks. Each class has its own pattern (a stripe orientation and frequency
 * plus a bright quadrant and a colour tint), drawn with random phase, contrast and noise, so a small conv net can learn
 * it in a few steps, but not from a single pixel.
 */
import { channelStats, DatasetError, type ImageDataset } from "./dataset";
import { SeededRng } from "./rng";

export interface SyntheticOptions {
  count: number;
  classes: number;
  /** [channels, height, width]. */
  shape: [number, number, number];
  seed: number;
  /** Standard deviation of the pixel noise, in 0..255 units. */
  noise?: number;
}

export function syntheticDataset(options: SyntheticOptions): ImageDataset {
  const { count, classes, seed } = options;
  const [channels, height, width] = options.shape;
  if (!(count > 0 && classes >= 2 && classes <= 255 && channels > 0 && height > 0 && width > 0)) {
    throw new DatasetError(`synthetic dataset: invalid options ${JSON.stringify(options)}`);
  }
  const noise = options.noise ?? 24;
  const rng = new SeededRng(seed);
  const images = new Uint8Array(count * height * width * channels);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = i % classes;
    labels[i] = label;
    const angle = (Math.PI * label) / classes;
    const frequency = (2 * Math.PI * (1 + (label % 3))) / Math.max(4, Math.min(height, width) / 2);
    const dx = Math.cos(angle) * frequency;
    const dy = Math.sin(angle) * frequency;
    const phase = rng.next() * 2 * Math.PI;
    const contrast = 50 + rng.next() * 40;
    const quadrant = label % 4;
    let o = i * height * width * channels;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const inQuadrant = (y < height / 2 ? 0 : 2) + (x < width / 2 ? 0 : 1) === quadrant;
        const base = 128 + contrast * Math.sin(dx * x + dy * y + phase) + (inQuadrant ? 40 : -10);
        for (let c = 0; c < channels; c++) {
          const tint = channels > 1 && c === label % channels ? 20 : 0;
          images[o++] = Math.max(0, Math.min(255, Math.round(base + tint + noise * rng.normal())));
        }
      }
    }
  }
  // Shuffle so that the class order does not follow the index.
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  rng.shuffle(order);
  const imageSize = height * width * channels;
  const shuffledImages = new Uint8Array(images.length);
  const shuffledLabels = new Uint8Array(count);
  order.forEach((src, dst) => {
    shuffledImages.set(images.subarray(src * imageSize, (src + 1) * imageSize), dst * imageSize);
    shuffledLabels[dst] = labels[src];
  });
  return {
    name: "synthetic",
    images: shuffledImages,
    labels: shuffledLabels,
    count,
    height,
    width,
    channels,
    classes,
    classNames: Array.from({ length: classes }, (_, i) => `pattern${i}`),
    ...channelStats(shuffledImages, channels),
  };
}
