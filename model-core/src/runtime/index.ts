/** The tfjs runtime (backends, kernels, model, training). Separate from the package's tfjs-free main entry. */
export * from "./backend";
export { registerWasmConvKernels, groupedConv2d } from "./convKernels";
export * from "./init";
export * from "./model";
export * from "./gradflow";
export * from "./trainTypes";
export * from "./optim";
export * from "./checkpoint";
export * from "./train";
export * from "./calibrate";
export { DataParallelStepper, resolveWorkerCount } from "./parallel";
export { batchNormTrain } from "./batchNorm";
export * from "../data/index";
