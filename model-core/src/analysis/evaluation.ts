/**
 * What an evaluation reports, computed from logits alone so every backend gets the same figures from the same
 * arithmetic: mean softmax cross-entropy (float64 log-sum-exp, as PyTorch's F.cross_entropy with reduction "mean"),
 * accuracy, per-class accuracy, the confusion matrix (rows true class, columns predicted) and the first misclassified
 * images. Plain data in, plain data out.
 */

export interface ClassAccuracy {
  name: string;
  /** Images of this class evaluated. */
  total: number;
  correct: number;
  /** correct / total; null when the set has no image of the class. */
  accuracy: number | null;
}

export interface Misclassified {
  /** Index of the image in its dataset. */
  index: number;
  label: number;
  predicted: number;
  /** Softmax probability of the predicted class. */
  confidence: number;
}

export interface EvaluationResult {
  model: string;
  dataset: string;
  /** "wasm", "torch (cpu)" … */
  backend: string;
  /** The weights file, or null for the seeded initialisation. */
  weights: string | null;
  samples: number;
  loss: number;
  accuracy: number;
  perClass: ClassAccuracy[];
  /** confusion[true][predicted] = count. */
  confusion: number[][];
  misclassified: Misclassified[];
}

/** The misclassified images an evaluation keeps for the grid: a page of thumbnails, not the whole set. */
export const MISCLASSIFIED_KEPT = 64;

export class EvaluationAccumulator {
  private lossSum = 0;
  private count = 0;
  private correct = 0;
  private readonly confusion: number[][];
  private readonly misclassified: Misclassified[] = [];

  constructor(
    private readonly classNames: string[],
    private readonly keep = MISCLASSIFIED_KEPT,
  ) {
    this.confusion = classNames.map(() => new Array<number>(classNames.length).fill(0));
  }

  /** Adds `rows` rows of logits ([rows, classes], row-major) with their labels and dataset indices. */
  add(logits: ArrayLike<number>, rows: number, labels: ArrayLike<number>, indices: ArrayLike<number>): void {
    const classes = this.classNames.length;
    if (logits.length !== rows * classes)
      throw new Error(`evaluation: ${logits.length} logits for ${rows} rows of ${classes} classes`);
    for (let r = 0; r < rows; r++) {
      const base = r * classes;
      let best = 0;
      let max = -Infinity;
      for (let c = 0; c < classes; c++) {
        const v = logits[base + c];
        if (v > max) {
          max = v;
          best = c;
        }
      }
      let sum = 0;
      for (let c = 0; c < classes; c++) sum += Math.exp(logits[base + c] - max);
      const logSumExp = max + Math.log(sum);
      const label = labels[r];
      if (!(Number.isInteger(label) && label >= 0 && label < classes))
        throw new Error(`evaluation: label ${label} is not one of the network's ${classes} classes`);
      this.lossSum += logSumExp - logits[base + label];
      this.count += 1;
      this.confusion[label][best] += 1;
      if (best === label) this.correct += 1;
      else if (this.misclassified.length < this.keep)
        this.misclassified.push({ index: indices[r], label, predicted: best, confidence: 1 / sum });
    }
  }

  result(info: Pick<EvaluationResult, "model" | "dataset" | "backend" | "weights">): EvaluationResult {
    const perClass = this.classNames.map((name, c) => {
      const total = this.confusion[c].reduce((a, b) => a + b, 0);
      const correct = this.confusion[c][c];
      return { name, total, correct, accuracy: total > 0 ? correct / total : null };
    });
    return {
      ...info,
      samples: this.count,
      loss: this.count > 0 ? this.lossSum / this.count : NaN,
      accuracy: this.count > 0 ? this.correct / this.count : NaN,
      perClass,
      confusion: this.confusion.map((row) => row.slice()),
      misclassified: this.misclassified.slice(),
    };
  }
}
