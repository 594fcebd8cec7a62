/** Datasets for training (node only: they read files). */
export * from "./dataset";
export * from "./rng";
export * from "./mnist";
export * from "./cifar10";
export * from "./synthetic";
export * from "./resolve";
export * from "./idx";
export * from "./imagefolder";
export * from "./imageDecode";
export * from "./imageTransform";
export * from "./preview";
