/**
 * ./rpc.ts over node worker threads, both ends: `WorkerClient` (the thread that starts the worker) and
 * `serveRequests` (the worker). Node only. The layout, spec, training and replica workers all speak through these.
 *
 * A worker is lost when it crashes or exits by itself; every request in flight then fails once, with a message that
 * names the worker, and the next request starts a fresh one. A request past its time limit replaces the worker too:
 * it may be stuck (in elkjs, in the parser), and a stuck thread answers nothing else.
 */
import type { MessagePort, Worker } from "node:worker_threads";
import {
  MessageHandler,
  RpcClient,
  isResponseMessage,
  type Handlers,
  type RequestMessage,
  type RequestOptions,
  type ResultMap,
  type Tagged,
} from "./rpc";

export interface WorkerClientOptions<Push> {
  /** Names the worker in error messages, e.g. "diagram layout worker". */
  name: string;
  /** Starts a worker thread; called for the first message and again after the worker was lost or stopped. */
  spawn: () => Worker;
  /** Every message from the worker that is not a response: state it streams (progress, events). */
  onPush?: (message: Push) => void;
  /** The worker crashed or exited by itself; `message` is what the requests in flight failed with. Not after `stop`. */
  onLost?: (message: string) => void;
}

/**
 * The requesting side of a worker: `request` resolves with the response's result, pushes go to `onPush`, and
 * `notify` posts a message that gets no response. `Push` and `Note` are the protocol's push and notification unions.
 */
export class WorkerClient<B extends Tagged, R extends ResultMap<B>, Push = never, Note = never> {
  private worker: Worker | null = null;
  private readonly rpc: RpcClient<B, R>;

  constructor(private readonly options: WorkerClientOptions<Push>) {
    this.rpc = new RpcClient<B, R>(
      (message) => this.started().postMessage(message),
      () => void this.stop(`${options.name} restarted after a timeout`),
    );
  }

  /** Sends `body` (starting the worker if none runs) and resolves with its kind's result. */
  request<K extends B["kind"]>(body: Extract<B, { kind: K }>, options?: RequestOptions): Promise<R[K]> {
    return this.rpc.request(body, options);
  }

  /** Posts a notification (no response), starting the worker if none runs. */
  notify(message: Note): void {
    this.started().postMessage(message);
  }

  /** Whether a worker thread is running now. */
  get running(): boolean {
    return this.worker !== null;
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.rpc.inFlight;
  }

  /** Terminates the worker; requests in flight fail with `why`. The next request starts a fresh worker. */
  stop(why: string): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.rpc.failAll(why);
    if (!worker) return Promise.resolve();
    worker.removeAllListeners();
    worker.on("error", () => undefined);
    return worker.terminate().then(() => undefined);
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = this.options.spawn();
    const { name, onPush } = this.options;
    worker.on("message", (message: unknown) => {
      if (this.worker !== worker) return;
      // A late answer (its request timed out or was failed) is dropped, never taken for a push.
      if (isResponseMessage(message)) this.rpc.accept(message);
      else onPush?.(message as Push);
    });
    worker.on("error", (err: Error) => this.lost(worker, `${name} crashed: ${err.message}`));
    worker.on("exit", (code: number) => this.lost(worker, `${name} exited unexpectedly (code ${code})`));
    this.worker = worker;
    return worker;
  }

  /** Runs once per worker: an "error" is followed by an "exit", and only the first counts. */
  private lost(worker: Worker, message: string): void {
    if (this.worker !== worker) return;
    this.worker = null;
    void worker.terminate();
    this.rpc.failAll(message);
    this.options.onLost?.(message);
  }
}

export interface ServeOptions<Note> {
  /** Messages that are not requests: the protocol's notifications. Must not throw (nothing would hear it). */
  onNote?: (message: Note) => void | Promise<void>;
  /** Take one message at a time, requests and notifications alike, in arrival order. Default: each as it arrives. */
  inOrder?: boolean;
  /** With `inOrder`: work the first message waits for (e.g. a warm-up; its failure is ignored). */
  after?: Promise<unknown>;
}

/** The answering side, in a worker: each request on `port` gets exactly one response from its kind's handler. */
export function serveRequests<B extends Tagged, R extends ResultMap<B>, Note = never>(
  port: MessagePort,
  handlers: Handlers<B, R>,
  options: ServeOptions<Note> = {},
): void {
  const responder = new MessageHandler<B, R>(handlers, (response) => port.postMessage(response));
  const take = async (message: unknown): Promise<void> => {
    if (!isRequest(message)) return options.onNote?.(message as Note);
    const kind = (message.body as { kind?: unknown } | null)?.kind;
    if (typeof kind !== "string" || !Object.prototype.hasOwnProperty.call(handlers, kind))
      return responder.reject(message.id, "invalid", `unknown request kind ${JSON.stringify(kind ?? null)}`);
    return responder.handle(message as RequestMessage<B>);
  };
  let queue: Promise<void> = Promise.resolve(options.after).then(
    () => undefined,
    () => undefined,
  );
  port.on("message", (message: unknown) => {
    if (options.inOrder) queue = queue.then(() => take(message)).catch(() => undefined);
    else void take(message).catch(() => undefined);
  });
}

function isRequest(value: unknown): value is { type: "request"; id: number; body: unknown } {
  if (typeof value !== "object" || value === null) return false;
  const m = value as { type?: unknown; id?: unknown };
  return m.type === "request" && typeof m.id === "number";
}
