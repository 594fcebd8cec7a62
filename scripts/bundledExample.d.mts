export declare const BUNDLED_EXAMPLE: string;
export declare function bundledExampleDefine(root: string): Record<string, string>;
