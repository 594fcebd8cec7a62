/**
 * The backend of a CLI command from its --backend, --python, --device and --threads (RESNET_STUDIO_BACKEND when
 * --backend is auto or absent). The Python options are read only by the PyTorch backend.
 */
import { backendFor, type Backend } from "../runtime/backends";
import { parseBackendSetting } from "../runtime/backendNames";
import { parseDevice, resolvePython } from "../runtime/torchBackend";
import { parseThreads } from "./train";

export interface BackendCliOptions {
  backend?: string;
  python?: string;
  device?: string;
  threads?: string;
}

export function backendFromOptions(options: BackendCliOptions): Backend {
  return backendFor(parseBackendSetting(options.backend ?? "auto", "--backend"), {
    python: resolvePython(options.python),
    device: parseDevice(options.device ?? "auto"),
    threads: options.threads === undefined ? undefined : parseThreads(options.threads),
  });
}
